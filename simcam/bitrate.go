package simcam

import (
	"math"
	"strconv"
	"strings"
)

// ParseBitrate reads a --bitrate value: bits per second, with an optional
// k/K (1e3) or m/M (1e6) suffix, e.g. "4M", "800k", "1.5M", "0".
func ParseBitrate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "k"), strings.HasSuffix(t, "K"):
		mult, t = 1e3, t[:len(t)-1]
	case strings.HasSuffix(t, "m"), strings.HasSuffix(t, "M"):
		mult, t = 1e6, t[:len(t)-1]
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*mult > 1e11 {
		return 0, &OptionError{Field: "Bitrate", Msg: "want bits per second like 4M or 800k, got " + strconv.Quote(s)}
	}
	return int64(math.Round(v * mult)), nil
}
