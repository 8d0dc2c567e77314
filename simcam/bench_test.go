package simcam

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

const helperEnv = "SIMCAM_BENCH_READER_URLS"

// BenchmarkServer64x4M measures the server's CPU with 64 cameras at 4 Mbit/s,
// each read over TCP by a client in a child process (so the readers' CPU is
// not counted). Run with: go test -run '^$' -bench Server64 ./simcam/
func BenchmarkServer64x4M(b *testing.B) {
	benchServer(b, 64, 4_000_000, true)
}

// BenchmarkServer64x4MNoReaders is the cost of cameras nobody watches.
func BenchmarkServer64x4MNoReaders(b *testing.B) {
	benchServer(b, 64, 4_000_000, false)
}

func benchServer(b *testing.B, cameras int, bitrate int64, readers bool) {
	const interval = 10 * time.Second
	s := startServer(b, Options{Cameras: cameras, Bitrate: bitrate})
	var ask func() int64
	if readers {
		urls := make([]string, cameras)
		for i := range urls {
			urls[i] = s.URL(i + 1)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReaders$")
		cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(urls, ","))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() {
			stdin.Close()
			_ = cmd.Wait()
		}()
		lines := bufio.NewScanner(stdout)
		next := func() string {
			for lines.Scan() {
				if l, ok := strings.CutPrefix(lines.Text(), "simcam-helper "); ok {
					return l
				}
			}
			b.Fatalf("reader helper ended: %v", lines.Err())
			return ""
		}
		if l := next(); l != "ready" {
			b.Fatalf("reader helper: %s", l)
		}
		ask = func() int64 {
			if _, err := io.WriteString(stdin, "\n"); err != nil {
				b.Fatal(err)
			}
			n, err := strconv.ParseInt(next(), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	time.Sleep(2 * time.Second) // let connections settle

	b.ResetTimer()
	for range b.N {
		var bytes0 int64
		if ask != nil {
			bytes0 = ask()
		}
		r0 := rusage(b)
		t0 := time.Now()
		time.Sleep(interval)
		r1 := rusage(b)
		wall := time.Since(t0)
		cpu := r1 - r0
		streamMin := float64(cameras) * wall.Minutes()
		b.ReportMetric(cpu.Seconds()*1000/streamMin, "cpu-ms/stream-min")
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%cpu")
		if ask != nil {
			got := ask() - bytes0
			// RTP payload bytes, so slightly above the NAL unit bitrate.
			b.ReportMetric(float64(got)*8/wall.Seconds()/float64(cameras)/1e6, "Mbit/s/stream")
		}
	}
}

func rusage(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestHelperReaders is the benchmark's reader process, not a test: it plays
// every URL in $SIMCAM_BENCH_READER_URLS over TCP, counts RTP payload bytes,
// and answers each line on stdin with the running total.
func TestHelperReaders(t *testing.T) {
	list := os.Getenv(helperEnv)
	if list == "" {
		t.Skip("benchmark helper; runs only as BenchmarkServer64x4M's child")
	}
	var total atomic.Int64
	for _, url := range strings.Split(list, ",") {
		c, err := playCounting(url, &total)
		if err != nil {
			fmt.Printf("simcam-helper %v\n", err)
			return
		}
		defer c.Close()
	}
	fmt.Println("simcam-helper ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("simcam-helper %d\n", total.Load())
	}
}

func playCounting(url string, total *atomic.Int64) (*gortsplib.Client, error) {
	u, err := base.ParseURL(url)
	if err != nil {
		return nil, err
	}
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp}
	if err := c.Start2(); err != nil {
		return nil, err
	}
	desc, _, err := c.Describe(u)
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		c.Close()
		return nil, err
	}
	c.OnPacketRTPAny(func(_ *description.Media, _ format.Format, pkt *rtp.Packet) {
		total.Add(int64(len(pkt.Payload)))
	})
	if _, err := c.Play(nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
