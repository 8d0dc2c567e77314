package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"mimamori/simcam"
)

func runSimcam(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("simcam", "simcam --listen ADDR --cameras N [--codec h264|h265] [--bitrate 4M]", `
Serve synthetic RTSP cameras at rtsp://ADDR/cam1 … rtsp://ADDR/camN for
testing and the demo. Streams loop a short built-in clip; --bitrate pads
it to the given rate (k/M/G are powers of 1000, bits per second). Prints
the camera URLs, then runs until SIGINT or SIGTERM.`)
	listen := c.str("listen", "127.0.0.1:8554", "ADDR", "RTSP address to listen on (host:port)")
	n := c.int("cameras", 1, "N", "number of cameras")
	codec := c.str("codec", "h264", "CODEC", "h264 or h265")
	bitrate := c.str("bitrate", "", "BITRATE", "bit rate per camera in bits per second, e.g. 4M (default: the clip as is)")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	if len(pos) != 0 {
		return c.usageError(stderr, "unexpected argument %q", pos[0])
	}
	if *n < 1 {
		return c.usageError(stderr, "--cameras must be at least 1")
	}
	if *codec != "h264" && *codec != "h265" {
		return c.usageError(stderr, "--codec must be h264 or h265, got %q", *codec)
	}
	var bps int64
	if *bitrate != "" {
		var err error
		if bps, err = parseBitrate(*bitrate); err != nil {
			return c.usageError(stderr, "--bitrate: %v", err)
		}
	}
	err := simcam.Run(ctx, simcam.Options{
		Listen:  *listen,
		Cameras: *n,
		Codec:   *codec,
		Bitrate: bps,
		Logger:  slog.New(slog.NewTextHandler(stderr, nil)),
		Out:     stdout,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return c.fail(stderr, err)
	}
	return 0
}

// parseBitrate parses "4M", "500k", "2.5M", "4000000" as bits per second.
func parseBitrate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			mult = 1e3
		case 'm', 'M':
			mult = 1e6
		case 'g', 'G':
			mult = 1e9
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*mult > 1e10 || f != f {
		return 0, fmt.Errorf("invalid bit rate %q (want e.g. 4M, 500k)", s)
	}
	return int64(f * mult), nil
}
