package tui

import (
	"errors"
	"fmt"
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

func (s *session) roleName(r core.Role) string { return s.T("role." + r.String()) }

// errText is a short, user-facing form of a core error.
func (s *session) errText(err error) string {
	var fe *core.FieldError
	switch {
	case errors.As(err, &fe):
		return fmt.Sprintf(s.T("err.field"), fe.Field, fe.Reason)
	case errors.Is(err, core.ErrForbidden):
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
