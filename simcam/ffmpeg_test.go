package simcam

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
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
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-rtsp_transport", "tcp",
				"-show_entries", "stream=codec_name,profile,width,height", "-of", "csv=p=0", s.URL(2)).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v\n%s", err, out)
			}
			line := strings.TrimSpace(string(out))
			t.Logf("ffprobe: %s", line)
			if !strings.HasPrefix(line, tc.name+",") || !strings.HasSuffix(line, ",1280,720") {
				t.Fatalf("ffprobe reported %q, want %s 1280x720", line, tc.name)
			}

			// ffmpeg joins mid-GOP, and decoding the P-frames before the
			// first IDR legitimately reports missing references. So ffmpeg
			// copies 3 s out over RTSP, the part before the first IDR is cut
			// off, and the rest must decode without a single error.
			dir := t.TempDir()
			raw := filepath.Join(dir, "raw."+tc.name)
			if out, err := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-rtsp_transport", "tcp",
				"-i", s.URL(1), "-t", "3", "-c", "copy", "-f", tc.name, raw).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg copy: %v\n%s", err, out)
			}
			cut := filepath.Join(dir, "cut."+tc.name)
			if err := cutToFirstIDR(tc.codec, raw, cut); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-stats", "-i", cut, "-f", "null", "-")
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("ffmpeg decode: %v\n%s", err, stderr.String())
			}
			frames := 0
			var bad []string
			for _, l := range strings.FieldsFunc(stderr.String(), func(r rune) bool { return r == '\n' || r == '\r' }) {
				l = strings.TrimSpace(l)
				switch {
				case l == "":
				case strings.HasPrefix(l, "frame="):
					fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "frame=")), "%d", &frames)
				default:
					bad = append(bad, l)
				}
			}
			if len(bad) > 0 {
				t.Fatalf("ffmpeg reported decode errors:\n%s", strings.Join(bad, "\n"))
			}
			// 3 s minus at most 1 s before the first IDR.
			if frames < 45 {
				t.Fatalf("ffmpeg decoded %d frames", frames)
			}
			t.Logf("ffmpeg decoded %d frames without errors", frames)
		})
	}
}

// cutToFirstIDR writes src's Annex-B stream from the access unit of the
// first random-access picture on.
func cutToFirstIDR(codec, src, dst string) error {
	buf, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(buf); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	k := kindsFor(codec)
	for i, n := range nalus {
		if len(n) >= k.headerLen && k.isVCL(n) && k.isRandomAccess(n) {
			for i > 0 && !k.isVCL(nalus[i-1]) {
				i--
			}
			out, err := nalus[i:].Marshal()
			if err != nil {
				return err
			}
			return os.WriteFile(dst, out, 0o600)
		}
	}
	return fmt.Errorf("%s: no random-access picture in %d NAL units", src, len(nalus))
}
