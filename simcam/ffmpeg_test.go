package simcam

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFFmpegReadsCameras checks the cameras with an independent RTSP client
// and decoder. The pure-Go equivalents are the tests in server_test.go.
func TestFFmpegReadsCameras(t *testing.T) {
	ffprobe, err1 := exec.LookPath("ffprobe")
	ffmpeg, err2 := exec.LookPath("ffmpeg")
	if err1 != nil || err2 != nil {
		t.Skip("ffprobe/ffmpeg not installed; skipping the external decoder check")
	}
	for _, tc := range []struct{ codec, name string }{{CodecH264, "h264"}, {CodecH265, "hevc"}} {
		t.Run(tc.codec, func(t *testing.T) {
			s := startServer(t, Options{Cameras: 2, Codec: tc.codec, Bitrate: 4_000_000})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-rtsp_transport", "tcp",
				"-show_entries", "stream=codec_name,width,height,profile", "-of", "csv=p=0", s.URL(2)).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v\n%s", err, out)
			}
			line := strings.TrimSpace(string(out))
			t.Logf("ffprobe: %s", line)
			if !strings.HasPrefix(line, tc.name+",") || !strings.HasSuffix(line, ",1280,720") {
				t.Fatalf("ffprobe reported %q, want %s 1280x720", line, tc.name)
			}

			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-stats", "-rtsp_transport", "tcp",
				"-i", s.URL(1), "-t", "2", "-f", "null", "-")
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, stderr.String())
			}
			// ffmpeg joins mid-GOP. Its H.264 decoder drops the frames before
			// the first IDR quietly; the HEVC one complains about each missing
			// reference. Those lines, and only those, are expected, and only
			// for less than one GOP's frames.
			var bad []string
			joinMsgs := 0
			frames := 0
			for _, l := range strings.FieldsFunc(stderr.String(), func(r rune) bool { return r == '\n' || r == '\r' }) {
				l = strings.TrimSpace(l)
				switch {
				case l == "":
				case strings.HasPrefix(l, "frame="):
					fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "frame=")), "%d", &frames)
				case tc.codec == CodecH265 && strings.Contains(l, "Could not find ref with POC"):
					joinMsgs++
				default:
					bad = append(bad, l)
				}
			}
			if len(bad) > 0 || joinMsgs > 2*25 {
				t.Fatalf("ffmpeg reported decode errors:\n%s", strings.Join(bad, "\n"))
			}
			// -t 2 at 25 fps; frames before the first IDR may be dropped.
			if frames < 25 {
				t.Fatalf("ffmpeg decoded %d frames in 2 s", frames)
			}
			t.Logf("ffmpeg decoded %d frames, %d join messages", frames, joinMsgs)
		})
	}
}
