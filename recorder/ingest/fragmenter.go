package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// clockRate is the RTP clock of H.264/H.265 and the fMP4 track timescale.
const clockRate = 90000

const (
	// A PTS step between consecutive access units outside
	// [-maxPTSBack, +maxGap] is a timeline break, not frame reordering.
	maxPTSBack = clockRate          // 1 s
	maxGap     = 5 * clockRate      // 5 s
	defaultDur = clockRate / 25     // duration guessed for a last frame with no successor
	maxSampDur = maxGap + clockRate // sanity cap on a single sample duration
)

// errNoParams means no SPS/PPS (or VPS) has been seen: no init can be built.
var errNoParams = errors.New("no parameter sets (SPS/PPS) received yet")

// errBadSPS means an in-band SPS did not parse; its access unit is dropped.
var errBadSPS = errors.New("invalid NAL unit header or parameter set in the stream")

type codecKind int

const (
	codecH264 codecKind = iota + 1
	codecH265
)

func (k codecKind) String() string {
	switch k {
	case codecH264:
		return "H264"
	case codecH265:
		return "H265"
	}
	return ""
}

// sampleMeta locates one access unit inside the fragment's body.
type sampleMeta struct {
	off, n   int
	dts, pts int64
	dur      int64 // -1 while it is the held-back last sample
	key      bool
}

// fragmenter turns access units into init segments and fragments. It is
// owned by one goroutine at a time (the RTP callback, then the supervisor
// between connections) and keeps state that must survive reconnections:
// the current init and the end of the last written fragment.
type fragmenter struct {
	camera  string
	codec   codecKind
	maxFrag int64 // ticks
	sink    Sink
	now     func() time.Time
	mono    func() time.Duration
	steps   func() uint64 // wall-clock steps detected so far (Options.ClockSteps), or nil
	st      *stats
	event   func(kind string, at time.Time, details map[string]string)

	vps, sps, pps             []byte // latest parameter sets seen
	spsID                     int    // H.264 seq_parameter_set_id of sps, -1 unknown
	mbs                       int    // H.264 macroblocks per picture of sps (bounds slice headers)
	initVPS, initSPS, initPPS []byte // the ones the current init holds
	initID                    uint32
	haveInit                  bool

	h264dts  h264.DTSExtractor
	h265dts  h265.DTSExtractor
	dtsFresh bool
	dtsIn    [][]byte

	needKey bool // drop until a random access unit
	// Per-connection time base: wall(dts) = anchorWall + (dts - firstDTS).
	anchored   bool
	anchorWall time.Time // may be clamped forward to lastEnd
	anchorTick int64     // anchorWall in ticks since the Unix epoch
	firstDTS   int64
	stepsSeen  uint64 // steps() when last looked
	stepped    bool   // a wall-clock step is to be followed at the next keyframe
	lastPTS    int64
	havePTS    bool
	lastDur    int64
	ptsShift   int64 // removes timestamp jumps from the camera's PTS
	maxPTS     int64

	body     body // the samples' bytes, AVCC (body.go)
	samples  []sampleMeta
	span     int64 // ticks covered by completed samples
	disc     bool  // next fragment starts a new timeline
	seq      uint32
	lastEnd  time.Time
	wroteAny bool

	hsamp []headSample // flush scratch
	head  []byte       // moof+mdat header of the fragment being written
}

func newFragmenter(camera string, codec codecKind, maxFrag time.Duration, sink Sink,
	now func() time.Time, mono func() time.Duration, st *stats,
	event func(string, time.Time, map[string]string),
) *fragmenter {
	f := &fragmenter{
		camera: camera, codec: codec, sink: sink, now: now, mono: mono, st: st, event: event,
		maxFrag: durToTicks(maxFrag), spsID: -1, mbs: maxMbs,
	}
	if f.maxFrag <= 0 {
		f.maxFrag = clockRate
	}
	f.resetConnection()
	return f
}

// setCodec switches codec (a camera reconfigured between connections).
func (f *fragmenter) setCodec(k codecKind) {
	if k == f.codec {
		return
	}
	f.endConnection()
	f.codec = k
	f.vps, f.sps, f.pps, f.spsID, f.mbs = nil, nil, nil, -1, maxMbs
	f.haveInit = false
	f.resetDTS()
}

// setParams seeds parameter sets (from the SDP). In-band ones override.
func (f *fragmenter) setParams(vps, sps, pps []byte) {
	if len(vps) > 0 {
		f.vps = bytes.Clone(vps)
	}
	if len(sps) > 0 {
		f.sps = bytes.Clone(sps)
		if f.codec == codecH264 {
			f.spsID = h264SPSID(sps)
			f.mbs = h264Mbs(sps)
		}
	}
	if len(pps) > 0 {
		f.pps = bytes.Clone(pps)
	}
}

// resetConnection forgets the per-connection timeline.
func (f *fragmenter) resetConnection() {
	f.anchored = false
	f.havePTS = false
	f.needKey = true
	f.lastDur = 0
	f.ptsShift = 0
	f.resetDTS()
	if f.wroteAny {
		f.disc = true
	}
}

func (f *fragmenter) resetDTS() {
	f.h264dts = h264.DTSExtractor{}
	f.h264dts.Initialize()
	f.h265dts = h265.DTSExtractor{}
	f.h265dts.Initialize()
	f.dtsFresh = true
}

// endConnection writes out what is buffered (the held-back frame gets the
// previous frame's duration) and resets the timeline for the next one.
func (f *fragmenter) endConnection() {
	f.completeHeldGuess()
	f.flush()
	f.resetConnection()
}

func (f *fragmenter) maxNALUs() int {
	if f.codec == codecH265 {
		return h265.MaxNALUsPerAccessUnit
	}
	return h264.MaxNALUsPerAccessUnit
}

func (f *fragmenter) isKey(au [][]byte) bool {
	if f.codec == codecH265 {
		return h265.IsRandomAccess(au)
	}
	return h264.IsRandomAccess(au)
}

// scanParams picks up in-band parameter sets; it copies only on change.
// A changed SPS that does not parse is refused (garbage must not replace
// the init); the AU is then dropped.
func (f *fragmenter) scanParams(au [][]byte) bool {
	for _, n := range au {
		if f.codec == codecH265 {
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_VPS_NUT:
				setIfChanged(&f.vps, n)
			case h265.NALUType_SPS_NUT:
				if !bytes.Equal(f.sps, n) {
					var sps h265.SPS
					if sps.Unmarshal(n) != nil {
						return false
					}
					f.sps = bytes.Clone(n)
				}
			case h265.NALUType_PPS_NUT:
				if !bytes.Equal(f.pps, n) {
					if !h265PPSOK(n) {
						return false
					}
					f.pps = bytes.Clone(n)
				}
			}
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if !bytes.Equal(f.sps, n) {
				var sps h264.SPS
				if sps.Unmarshal(n) != nil {
					return false
				}
				f.sps = bytes.Clone(n)
				f.spsID = int(sps.ID)
				f.mbs = h264Mbs(n)
			}
		case h264.NALUTypePPS:
			if !bytes.Equal(f.pps, n) {
				if !h264PPSOK(n, f.spsID) {
					return false
				}
				f.pps = bytes.Clone(n)
			}
		}
	}
	return true
}

func setIfChanged(dst *[]byte, n []byte) {
	if !bytes.Equal(*dst, n) {
		*dst = bytes.Clone(n)
	}
}

func (f *fragmenter) haveParams() bool {
	if f.sps == nil || f.pps == nil {
		return false
	}
	return f.codec != codecH265 || f.vps != nil
}

func (f *fragmenter) paramsChanged() bool {
	return !bytes.Equal(f.sps, f.initSPS) || !bytes.Equal(f.pps, f.initPPS) ||
		(f.codec == codecH265 && !bytes.Equal(f.vps, f.initVPS))
}

// writeAU takes one access unit as received and its PTS in 90 kHz ticks.
// It never keeps references to au.
func (f *fragmenter) writeAU(au [][]byte, pts int64) {
	size, nonEmpty := 0, 0
	for _, n := range au {
		if len(n) > 0 {
			nonEmpty++
			size += 4 + len(n)
		}
	}
	if nonEmpty == 0 {
		f.drop(false)
		return
	}
	if nonEmpty != len(au) {
		// Empty NAL units carry nothing and cannot round-trip through AVCC.
		clean := make([][]byte, 0, nonEmpty)
		for _, n := range au {
			if len(n) > 0 {
				clean = append(clean, n)
			}
		}
		au = clean
	}
	if nonEmpty > f.maxNALUs() {
		// mediacommon cannot read such a sample back (the RTP decoders
		// refuse them too); store nothing rather than something unreadable.
		f.drop(true)
		f.oversize(fmt.Errorf("access unit of %d NAL units, at most %d are stored", nonEmpty, f.maxNALUs()),
			map[string]string{"nal_units": strconv.Itoa(nonEmpty)})
		return
	}
	if size > MaxAccessUnitSize {
		f.drop(true)
		f.oversize(fmt.Errorf("access unit of %d bytes, at most %d are stored", size, MaxAccessUnitSize),
			map[string]string{"bytes": strconv.Itoa(size)})
		return
	}

	if !f.nalHeadersOK(au) || !f.scanParams(au) {
		f.drop(f.anchored)
		f.invalidPayload(errBadSPS)
		return
	}
	key := f.isKey(au)
	if !f.haveParams() {
		f.drop(false)
		if key {
			// A keyframe that cannot be decoded. Other frames before the
			// first keyframe are not a fault: they would wait for it anyway
			// (a camera joined mid-GOP whose SDP has no parameter sets).
			f.st.missingParams.Add(1)
			f.st.fault(f.mono(), errNoParams)
		}
		return
	}
	if f.steps != nil {
		if n := f.steps(); n != f.stepsSeen {
			f.stepsSeen, f.stepped = n, true
		}
	}
	if f.needKey && !key {
		// Waiting for a keyframe: the first one (not counted) or the next
		// one after a loss (counted).
		f.drop(f.anchored)
		return
	}

	// A timestamp jump is taken out of the PTS (so DTS extraction and
	// sample durations run on) and put into a new wall-time anchor.
	jump := ""
	var jumpBy int64
	if f.havePTS {
		if d := pts + f.ptsShift - f.lastPTS; d < -maxPTSBack || d > maxGap {
			jump, jumpBy = "timestamp-gap", d
			if d < 0 {
				jump = "timestamp-backwards"
			}
			// Land past every PTS seen so far, with room for reordering;
			// the frame before the break gets a guessed duration anyway.
			f.ptsShift += f.maxPTS + 4*f.frameDur() - (pts + f.ptsShift)
		}
	}
	pts += f.ptsShift
	f.lastPTS, f.havePTS = pts, true
	if pts > f.maxPTS || !f.anchored {
		f.maxPTS = pts
	}

	dts, err := f.extractDTS(au, pts)
	if err == nil && f.heldIndex() >= 0 && dts < f.samples[f.heldIndex()].dts {
		err = fmt.Errorf("DTS went backwards")
	}
	if err != nil {
		f.st.decodeErrors.Add(1)
		f.st.setError(fmt.Errorf("DTS: %w", err))
		f.resetDTS()
		f.startDropping()
		f.markDiscontinuity("dts-error", map[string]string{"error": err.Error()})
		return
	}

	var disc map[string]string
	if jump != "" && f.anchored {
		f.completeHeldGuess()
		f.flush()
		f.anchored = false
		disc = map[string]string{"reason": jump, "delta": ticksToDur(jumpBy).String()}
	}
	if f.stepped && key && f.anchored {
		// The wall clock was stepped (a correction, as far as anyone can
		// tell): the timeline follows it from this keyframe on.
		f.completeHeld(dts)
		f.flush()
		f.anchored = false
	}

	if !f.haveInit || f.paramsChanged() {
		f.completeHeld(dts)
		f.flush()
		if !key {
			f.startDropping()
			return
		}
		if err := f.writeInit(); err != nil {
			f.st.setError(err)
			f.drop(false)
			return
		}
	}
	f.needKey = false

	if !f.anchored {
		f.anchor(dts, disc)
	}

	if f.heldIndex() >= 0 {
		f.completeHeld(dts)
		if key || f.span >= f.maxFrag {
			f.flush()
		}
	}
	f.appendSample(au, dts, pts, key)
	f.st.frame(f.wallOf(dts), size, f.mono())
}

// startDropping drops the current AU and everything up to the next
// keyframe; what is buffered is written first, so the loss is a gap.
func (f *fragmenter) startDropping() {
	f.drop(true)
	f.completeHeldGuess()
	f.flush()
	f.needKey = true
}

// interrupt ends the run of stored frames at a stream fault: what is
// buffered is written (the held frame with a guessed duration), and the
// next stored frame is a keyframe after a discontinuity. It reports
// whether frames were being recorded, that is whether the fault cost
// footage (and deserves an event).
func (f *fragmenter) interrupt() bool {
	broke := f.anchored && !f.needKey
	f.completeHeldGuess()
	f.flush()
	f.needKey = true
	f.resetDTS()
	if broke {
		f.disc = true
		f.st.discontinuities.Add(1)
	}
	return broke
}

// streamFault interrupts recording for a fault of kind and sends the event
// if recording was running; faults while waiting for a keyframe are only
// counted (by the caller).
func (f *fragmenter) streamFault(kind string, err error, details map[string]string) {
	if !f.interrupt() {
		return
	}
	if details == nil {
		details = map[string]string{}
	}
	if err != nil {
		details["error"] = err.Error()
	}
	f.event(kind, f.now().UTC(), details)
}

// invalidPayload handles a payload or access unit that does not parse.
func (f *fragmenter) invalidPayload(err error) {
	f.st.invalid.Add(1)
	f.st.decodeErrors.Add(1)
	f.st.fault(f.mono(), err)
	f.streamFault(EventInvalidPayload, err, nil)
}

// oversize handles a NAL or access unit over the size limits.
func (f *fragmenter) oversize(err error, details map[string]string) {
	f.st.oversize.Add(1)
	f.st.fault(f.mono(), err)
	f.streamFault(EventOversizeNAL, err, details)
}

// packetLoss handles lost RTP packets: a gap, not an invalid stream.
func (f *fragmenter) packetLoss(lost uint64) {
	f.st.packetsLost.Add(lost)
	f.streamFault(EventPacketLoss, nil, map[string]string{"lost": strconv.FormatUint(lost, 10)})
}

// sourceChanged starts a new timeline for a camera that restarted its RTP
// source (new SSRC, sequence numbers and timestamps): like a reconnection,
// with the time anchored afresh at the next keyframe.
func (f *fragmenter) sourceChanged(details map[string]string) {
	f.st.ssrcChanges.Add(1)
	broke := f.interrupt()
	f.resetConnection()
	if broke {
		f.event(EventSSRCChange, f.now().UTC(), details)
	}
}

func (f *fragmenter) drop(counted bool) {
	if counted {
		f.st.dropped.Add(1)
	}
}

// heldIndex is the index of the held-back sample, or -1.
func (f *fragmenter) heldIndex() int {
	if n := len(f.samples); n > 0 && f.samples[n-1].dur < 0 {
		return n - 1
	}
	return -1
}

// completeHeld gives the held sample its duration, nextDTS − its DTS,
// first cutting the fragment if that sample would overrun MaxFragment.
func (f *fragmenter) completeHeld(nextDTS int64) {
	if i := f.heldIndex(); i >= 0 {
		d := nextDTS - f.samples[i].dts
		if i > 0 && f.span+d > f.maxFrag {
			f.flush()
		}
		f.setHeldDur(d)
	}
}

// completeHeldGuess ends the held sample when no successor will come: it
// gets the previous sample's duration.
func (f *fragmenter) completeHeldGuess() {
	if i := f.heldIndex(); i >= 0 {
		f.completeHeld(f.samples[i].dts + f.frameDur())
	}
}

// frameDur is the best guess of one frame's duration.
func (f *fragmenter) frameDur() int64 {
	if f.lastDur > 0 {
		return f.lastDur
	}
	return defaultDur
}

func (f *fragmenter) setHeldDur(d int64) {
	d = min(max(d, 0), maxSampDur)
	f.samples[len(f.samples)-1].dur = d
	f.span += d
	if d > 0 {
		f.lastDur = d
	}
}

func (f *fragmenter) appendSample(au [][]byte, dts, pts int64, key bool) {
	off := f.body.len()
	f.body.appendAVCC(au)
	f.samples = append(f.samples, sampleMeta{off: off, n: f.body.len() - off, dts: dts, pts: pts, dur: -1, key: key})
}

func (f *fragmenter) extractDTS(au [][]byte, pts int64) (int64, error) {
	in := au
	if f.dtsFresh {
		// A fresh extractor needs the parameter sets; feed the known ones
		// ahead of the AU (only to the extractor, never to storage).
		f.dtsIn = f.dtsIn[:0]
		if f.codec == codecH265 {
			f.dtsIn = append(f.dtsIn, f.vps)
		}
		f.dtsIn = append(f.dtsIn, f.sps, f.pps)
		in = append(f.dtsIn, au...)
		f.dtsIn = in[:0]
	}
	var dts int64
	var err error
	if f.codec == codecH265 {
		dts, err = f.h265dts.Extract(in, pts)
	} else {
		dts, err = f.h264dts.Extract(in, pts)
	}
	if err == nil {
		f.dtsFresh = false
	}
	return dts, err
}

// markDiscontinuity records the event and flags the next fragment.
func (f *fragmenter) markDiscontinuity(reason string, details map[string]string) {
	f.disc = true
	f.st.discontinuities.Add(1)
	if details == nil {
		details = map[string]string{}
	}
	details["reason"] = reason
	f.event(EventDiscontinuity, f.now().UTC(), details)
}

// anchor starts a timeline at dts, at the wall clock's time now. disc, if
// set, is the discontinuity that caused it; a clamp adds to it, and one
// event records both.
//
// After a wall-clock step (detected by the ring's clock, counted in
// steps) the timeline follows the wall clock, backwards too: the step was
// a correction as far as anyone can tell, and footage must not stay a day
// ahead until a restart. It is flagged as a discontinuity but not
// ledgered per camera: the ring ledgers each step once. Footage stamped
// before a correction keeps its stamps. Otherwise a wall clock behind the
// end of the last fragment (reconnect jitter, or a camera clock running
// fast over a long connection) is clamped to it, so footage never
// overlaps.
func (f *fragmenter) anchor(dts int64, disc map[string]string) {
	now := f.now()
	wall := now
	behind := f.lastEnd.Sub(wall)
	switch {
	case f.stepped:
		f.st.clockJumps.Add(1)
		if f.wroteAny {
			f.disc = true
			f.st.discontinuities.Add(1)
		}
		disc = nil // the jump or reconnect that brought us here is part of the step
	case f.wroteAny && behind > 0:
		if disc == nil {
			disc = map[string]string{"reason": "clock-behind-last-fragment"}
		}
		disc["wall"] = wall.UTC().Format(time.RFC3339Nano)
		disc["clamped_to"] = f.lastEnd.Format(time.RFC3339Nano)
		wall = f.lastEnd
	}
	f.stepped = false
	if disc != nil {
		reason := disc["reason"]
		delete(disc, "reason")
		f.markDiscontinuity(reason, disc)
	}
	f.anchored = true
	f.anchorWall = wall.UTC()
	f.anchorTick = max(0, f.anchorWall.Unix()*clockRate+int64(f.anchorWall.Nanosecond())*clockRate/1e9)
	f.firstDTS = dts
}

func (f *fragmenter) wallOf(dts int64) time.Time {
	return f.anchorWall.Add(ticksToDur(dts - f.firstDTS))
}

// flush writes every completed sample as one fragment.
func (f *fragmenter) flush() {
	n := len(f.samples)
	held := f.heldIndex()
	if held >= 0 {
		n = held
	}
	if n == 0 {
		return
	}

	first := f.samples[0]
	last := f.samples[n-1]
	bodyLen := last.off + last.n - first.off
	f.seq++
	base := uint64(f.anchorTick + first.dts - f.firstDTS)
	frag := Fragment{
		Camera:        f.camera,
		Start:         f.wallOf(first.dts),
		Duration:      ticksToDur(f.span),
		Keyframe:      first.key,
		Discontinuity: f.disc,
		InitID:        f.initID,
	}
	var err error
	if int64(bodyLen) <= maxHeadBody {
		f.hsamp = f.hsamp[:0]
		for _, s := range f.samples[:n] {
			f.hsamp = append(f.hsamp, headSample{dur: uint32(s.dur), size: uint32(s.n),
				cto: clampInt32(s.pts - s.dts), sync: s.key})
		}
		f.head = appendFragmentHead(f.head[:0], f.seq, 1, base, f.hsamp, bodyLen)
		frag.Payload, frag.Body = f.head, f.body.segments(first.off, last.off+last.n)
	} else {
		frag.Payload, err = f.marshalPart(n, base)
	}
	if err == nil {
		err = f.sink.WriteFragment(frag)
	}

	// Keep the held sample, moved to the front of the body (only now:
	// the sink has just read the body as the fragment's mdat).
	if held >= 0 {
		h := f.samples[held]
		f.body.keep(h.off)
		h.off = 0
		f.samples = append(f.samples[:0], h)
	} else {
		f.body.reset()
		f.samples = f.samples[:0]
	}
	f.span = 0
	if err != nil {
		if errors.Is(err, ErrInitUnknown) {
			f.haveInit = false // write the init again before the next fragment
		}
		f.writeError(err)
		return
	}
	f.disc = false
	f.wroteAny = true
	f.lastEnd = frag.Start.Add(frag.Duration)
}

// marshalPart writes the first n samples as one fragment with mediacommon,
// for an mdat too big for the 32-bit box size appendFragmentHead writes.
func (f *fragmenter) marshalPart(n int, base uint64) ([]byte, error) {
	samples := make([]fmp4.Sample, n)
	ptrs := make([]*fmp4.Sample, n)
	for i, s := range f.samples[:n] {
		samples[i] = fmp4.Sample{
			Duration:        uint32(s.dur),
			PTSOffset:       clampInt32(s.pts - s.dts),
			IsNonSyncSample: !s.key,
			Payload:         f.body.bytes(s.off, s.off+s.n),
		}
		ptrs[i] = &samples[i]
	}
	part := fmp4.Part{SequenceNumber: f.seq, Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: base, Samples: ptrs}}}
	var out seekablebuffer.Buffer
	if err := part.Marshal(&out); err != nil {
		return nil, fmt.Errorf("marshal fragment: %w", err)
	}
	return out.Bytes(), nil
}

func (f *fragmenter) writeError(err error) {
	f.st.writeErrors.Add(1)
	f.st.setError(err)
	f.disc = true // the timeline has a hole where the lost fragment was
	f.event(EventWriteError, f.now().UTC(), map[string]string{"error": err.Error()})
}

func (f *fragmenter) writeInit() error {
	var codec fmp4.Codec
	if f.codec == codecH265 {
		codec = &fmp4.CodecH265{VPS: f.vps, SPS: f.sps, PPS: f.pps}
	} else {
		codec = &fmp4.CodecH264{SPS: f.sps, PPS: f.pps}
	}
	w, h, err := f.dimensions()
	if err != nil {
		f.haveInit = false
		return fmt.Errorf("parse SPS: %w", err)
	}
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: clockRate, Codec: codec}}}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		f.haveInit = false
		return fmt.Errorf("marshal init: %w", err)
	}
	id, err := f.sink.WriteInit(f.camera, buf.Bytes())
	if err != nil {
		f.haveInit = false
		f.writeError(fmt.Errorf("write init: %w", err))
		return err
	}
	f.initID = id
	f.haveInit = true
	f.initVPS, f.initSPS, f.initPPS = f.vps, f.sps, f.pps
	f.st.setCodec(f.codec.String(), w, h)
	return nil
}

func (f *fragmenter) dimensions() (int, int, error) {
	if f.codec == codecH265 {
		var s h265.SPS
		if err := s.Unmarshal(f.sps); err != nil {
			return 0, 0, err
		}
		return s.Width(), s.Height(), nil
	}
	var s h264.SPS
	if err := s.Unmarshal(f.sps); err != nil {
		return 0, 0, err
	}
	return s.Width(), s.Height(), nil
}

func durToTicks(d time.Duration) int64 {
	return int64(d/time.Second)*clockRate + int64(d%time.Second)*clockRate/int64(time.Second)
}

func ticksToDur(t int64) time.Duration {
	return time.Duration(t/clockRate)*time.Second + time.Duration(t%clockRate)*time.Second/clockRate
}

func clampInt32(v int64) int32 {
	return int32(min(max(v, math.MinInt32), math.MaxInt32))
}
