package simcam

import "testing"

func TestParseBitrate(t *testing.T) {
	for in, want := range map[string]int64{"4M": 4_000_000, "800k": 800_000, "1.5M": 1_500_000, "0": 0, "2500000": 2_500_000, " 4m ": 4_000_000} {
		got, err := ParseBitrate(in)
		if err != nil || got != want {
			t.Fatalf("%q: got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1M", "4G", "fast", "NaN", "1e20"} {
		if _, err := ParseBitrate(in); err == nil {
			t.Fatalf("%q accepted", in)
		}
	}
}
