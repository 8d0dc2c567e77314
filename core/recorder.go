package core

import (
	"encoding/binary"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// RecordErasure ledgers the recorder's proof of deletion. Idempotent by
// (Camera, Block, Generation): recording the same erasure twice writes
// one entry.
func (s *Store) RecordErasure(e Erasure) error { return s.recordErasure(SystemActor("recorder"), e) }

func (s *Store) recordErasure(actor Actor, e Erasure) error {
	if !Allowed(actor.Role, ActionErasure) {
		return s.deny(actor, ActionErasure, e.Camera)
	}
	if e.Camera == "" || len(e.Camera) > 256 {
		return Invalid("camera", "required")
	}
	key := make([]byte, 0, len(e.Camera)+13)
	key = append(key, e.Camera...)
	key = append(key, 0)
	key = binary.BigEndian.AppendUint32(key, e.Block)
	key = binary.BigEndian.AppendUint64(key, e.Generation)
	_, err := s.mutate(actor, ActionErasure, e.Camera, func(tx *bolt.Tx) ([]draft, error) {
		b := tx.Bucket(bErasures)
		if b.Get(key) != nil {
			return nil, nil // already recorded
		}
		if err := b.Put(key, []byte{1}); err != nil {
			return nil, err
		}
		return []draft{{Subject: e.Camera, Details: map[string]string{
			"from": fmtTime(e.From), "to": fmtTime(e.To), "erased_at": fmtTime(e.ErasedAt),
			"block": strconv.FormatUint(uint64(e.Block), 10), "generation": strconv.FormatUint(e.Generation, 10),
			"bytes": strconv.FormatInt(e.Bytes, 10), "reason": e.Reason,
		}}}, nil
	})
	return err
}

// RecordEvent ledgers something the recorder noticed (clock jump,
// discontinuity, camera down/up, write error).
func (s *Store) RecordEvent(ev RecordingEvent) error {
	return s.recordEvent(SystemActor("recorder"), ev)
}

func (s *Store) recordEvent(actor Actor, ev RecordingEvent) error {
	if !Allowed(actor.Role, ActionRecordingEvent) {
		return s.deny(actor, ActionRecordingEvent, ev.Camera)
	}
	if ev.Kind == "" {
		return Invalid("kind", "required")
	}
	det := map[string]string{}
	for k, v := range ev.Details {
		det[k] = v
	}
	det["kind"], det["at"] = ev.Kind, fmtTime(ev.At)
	_, err := s.mutate(actor, ActionRecordingEvent, ev.Camera, func(tx *bolt.Tx) ([]draft, error) {
		return []draft{{Subject: ev.Camera, Details: det}}, nil
	})
	return err
}
