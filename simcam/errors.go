package simcam

import "fmt"

// CodecError reports a codec name other than "h264" or "h265".
type CodecError struct{ Codec string }

func (e *CodecError) Error() string {
	return fmt.Sprintf("simcam: unknown codec %q (want h264 or h265)", e.Codec)
}

// ClipError reports an elementary stream that cannot be split into access units.
type ClipError struct {
	Codec string
	Msg   string
}

func (e *ClipError) Error() string { return fmt.Sprintf("simcam: %s clip: %s", e.Codec, e.Msg) }

// OptionError reports an invalid Options field.
type OptionError struct {
	Field string
	Msg   string
}

func (e *OptionError) Error() string { return fmt.Sprintf("simcam: option %s: %s", e.Field, e.Msg) }
