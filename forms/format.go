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

// jaDateTimeSec is "2026年1月2日 9時05分30秒": found ranges may be
// shorter than a minute.
func jaDateTimeSec(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(loc)
	return fmt.Sprintf("%s %d時%02d分%02d秒", jaDate(t, loc), t.Hour(), t.Minute(), t.Second())
}
