package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"mimamori/core"
)

// T looks key up in the session's language, then English, then returns
// the key itself so a missing entry is visible but harmless.
func (s *session) T(key string) string {
	if v, ok := catalogue[s.lang][key]; ok {
		return v
	}
	if v, ok := catalogue["en"][key]; ok {
		return v
	}
	return key
}

// roleName is the regulation's word for a role in Japanese (取扱担当者
// under 000, 操作担当者 under 001), the catalogue's otherwise.
func (s *session) roleName(r core.Role) string {
	if p, ok := s.policy(); ok && s.lang == "ja" {
		if t := p.RoleTerm(r); t != "" && t != r.String() {
			return t
		}
	}
	return s.T("role." + r.String())
}

// policy is the store's profile, when the backend offers it.
func (s *session) policy() (core.Policy, bool) {
	if pb, ok := s.c.Core.(policyBackend); ok {
		return pb.Policy(), true
	}
	return core.Policy{}, false
}

// purposeText and groundText are the profile's words (as the forms print
// them), the catalogue's without a profile.
func (s *session) purposeText(code string) string {
	if p, ok := s.policy(); ok {
		return p.PurposeLabel(code, s.lang)
	}
	return s.T("purpose." + code)
}

func (s *session) groundText(code string) string {
	if p, ok := s.policy(); ok {
		return p.GroundLabel(code, s.lang)
	}
	return s.T("ground." + code)
}

// purposeOpts and groundOpts are the profile's choices for form 2.
func (s *session) purposeOpts() []option {
	var out []option
	for _, c := range core.Purposes {
		out = append(out, option{value: c, label: s.purposeText(c)})
	}
	return out
}

func (s *session) groundOpts() []option {
	p, ok := s.policy()
	if !ok {
		return s.choiceOpts("ground.", core.Grounds)
	}
	var out []option
	for _, g := range p.Grounds {
		out = append(out, option{value: g.Code, label: g.Cite + " " + g.Text(s.lang)})
	}
	return out
}

// rangeText is one found or approved range: "cam1  2026-01-02 10:03:00 ~ 10:05:00".
func (s *session) rangeText(g core.FoundRange) string {
	return g.Camera + "  " + s.fmtRangeTime(g.From) + " ~ " + s.fmtRangeTime(g.To)
}

func (s *session) fmtRangeTime(t time.Time) string { return s.local(t).Format(rangeLayout) }

// rangeLayout is how the console writes and reads found ranges (seconds:
// a found range may be shorter than a minute).
const rangeLayout = "2006-01-02 15:04:05"

// parseRanges reads "FROM ~ TO; FROM ~ TO" (local times, rangeLayout or
// without seconds) for one camera.
func (s *session) parseRanges(camera, v string) ([]core.FoundRange, bool) {
	var out []core.FoundRange
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, b, ok := strings.Cut(part, "~")
		if !ok {
			return nil, false
		}
		from, ok1 := s.parseLocal(strings.TrimSpace(a))
		to, ok2 := s.parseLocal(strings.TrimSpace(b))
		if !ok1 || !ok2 || !from.Before(to) {
			return nil, false
		}
		out = append(out, core.FoundRange{Camera: camera, From: from.UTC(), To: to.UTC()})
	}
	return out, true
}

// errText is a short, user-facing form of a core error.
func (s *session) errText(err error) string {
	var fe *core.FieldError
	switch {
	case errors.As(err, &fe):
		return fmt.Sprintf(s.T("err.field"), fe.Field, fe.Reason)
	case errors.Is(err, core.ErrForbidden):
		var why *core.Refusal
		if errors.As(err, &why) { // allowed the act, not this one: say why
			return s.T("err.forbidden") + ": " + oneLine(why.Reason)
		}
		return s.T("err.forbidden")
	case errors.Is(err, core.ErrNotFound):
		return s.T("err.notfound")
	case errors.Is(err, core.ErrConflict):
		return s.T("err.conflict") + ": " + err.Error()
	case errors.Is(err, core.ErrUnavailable):
		return s.T("err.unavailable")
	}
	return err.Error()
}

// dur is a coarse duration: "6d 23h" / "6日23時間".
func (s *session) dur(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	ja := s.lang == "ja"
	switch {
	case days > 0 && hours == 0 && ja:
		return fmt.Sprintf("%d日", days)
	case days > 0 && hours == 0:
		return fmt.Sprintf("%dd", days)
	case days > 0 && ja:
		return fmt.Sprintf("%d日%d時間", days, hours)
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0 && ja:
		return fmt.Sprintf("%d時間%d分", hours, mins)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case ja:
		return fmt.Sprintf("%d分", mins)
	}
	return fmt.Sprintf("%dm", mins)
}

// Time formats, all in the session's location.
func (s *session) fmtDateTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return s.local(t).Format("2006-01-02 15:04")
}

func (s *session) fmtDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return s.local(t).Format("2006-01-02")
}

func (s *session) fmtShort(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return s.local(t).Format("01-02 15:04")
}

// fmtClock shows only the time for today, else the date and time.
func (s *session) fmtClock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	lt, now := s.local(t), s.local(s.now())
	if lt.YearDay() == now.YearDay() && lt.Year() == now.Year() {
		return lt.Format("15:04:05")
	}
	return lt.Format("01-02 15:04")
}

func (s *session) yesNo(b bool) string {
	if b {
		return s.T("yes")
	}
	return s.T("no")
}
