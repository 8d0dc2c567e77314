package appliance

import (
	"io"
	"log/slog"

	"mimamori/config"
)

// NewLogger is the appliance's log as the config asks for it: key=value
// text (the journal's usual shape) or JSON, from the configured level up.
// Each part adds its own attributes once (component=…, camera=…), so a
// technician can filter on them: journalctl -u mimamori | grep camera=cam3.
func NewLogger(w io.Writer, c config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.Format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
