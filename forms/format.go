package forms

import (
	"fmt"
	"time"
)

// jst is Japan time as a fixed zone, so forms print the same on systems
// without tzdata.
var jst = time.FixedZone("JST", 9*60*60)

func (d Document) loc() *time.Location {
	if d.Location != nil {
		return d.Location
	}
	return jst
}

// jaDate is "2026年1月2日" ("" for the zero time: the blank is left for
// handwriting).
func jaDate(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(loc)
	return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
}

// jaDateTime is "2026年1月2日 9時05分", as the forms' 時　分 blanks.
func jaDateTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(loc)
	return fmt.Sprintf("%s %d時%02d分", jaDate(t, loc), t.Hour(), t.Minute())
}

// isoTime is the machine-readable companion of a printed time.
func isoTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(time.RFC3339)
}

// Purposes as printed on forms 2 and 3 (the regulation's wording).
var purposeJa = map[string]string{
	"arrest":        "犯人検挙のため",
	"investigation": "事後捜査のため",
	"other":         "その他",
}

// Legal grounds (000 §8, 001 §6) for 特記事項.
var groundJa = map[string]string{
	"law":           "法令に基づく場合",
	"investigation": "捜査機関からの要請",
	"life":          "生命・身体・財産の安全を守るため",
	"consent":       "本人の同意",
	"other":         "その他",
}

var stateJa = map[string]string{
	"registered": "受付",
	"instructed": "検索指示",
	"searched":   "検索結果報告",
	"approved":   "承認",
	"denied":     "不承認",
	"exported":   "書出し",
	"provided":   "提供",
	"closed":     "完了",
}

func labelOr(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return k
}
