package core

import (
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SyntheticLedger describes a ledger of long operation, built fast for
// benchmarks and the year-long soak: what verification, the standing
// check and the console cost at that size, without living through it.
// The mix is the steady state this release writes: one coalesced erasure
// proof per camera per hour, a few recording-event summaries and people's
// acts spread over each day.
type SyntheticLedger struct {
	Start         time.Time // first entry (UTC)
	Days          int
	Cameras       int // erasure proofs: Cameras × 24 a day
	MachinePerDay int // other machine entries a day (recording events)
	PeoplePerDay  int // people's acts a day (logins, views, requests…)
}

// BuildSyntheticLedger writes a new database at path (which must not
// exist) holding o's ledger at the current schema, in large unsynced
// transactions, and returns the number of entries. Only for benchmarks
// and simulations: the product appends through mutate.
func BuildSyntheticLedger(path string, o SyntheticLedger) (uint64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true, NoFreelistSync: true,
		FreelistType: bolt.FreelistMapType})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		if k, _ := tx.Cursor().First(); k != nil {
			return fmt.Errorf("%s is not empty", path)
		}
		if err := createBuckets(tx); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put(kSchema, be64(latestSchema()))
	}); err != nil {
		return 0, err
	}
	perDay := o.Cameras*24 + o.MachinePerDay + o.PeoplePerDay
	if perDay == 0 || o.Days <= 0 {
		return 0, nil
	}
	step := 24 * time.Hour / time.Duration(perDay)
	total := o.Days * perDay
	recorder := SystemActor("recorder")
	people := []Actor{
		{Fingerprint: "SHA256:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyMTI", Name: "管理 花子", Role: RoleManager},
		{Fingerprint: "SHA256:b3BlcmF0b3JvcGVyYXRvcm9wZXJhdG9yb3BlcmF0b3I", Name: "担当 太郎", Role: RoleOperator},
	}
	const chunk = 50_000
	var n uint64
	for done := 0; done < total; done += chunk {
		err := db.Update(func(tx *bolt.Tx) error {
			for i := done; i < done+chunk && i < total; i++ {
				at := o.Start.UTC().Add(time.Duration(i) * step)
				slot := i % perDay
				var err error
				switch {
				case slot < o.Cameras*24:
					cam := "cam" + strconv.Itoa(slot%o.Cameras+1)
					from := at.Add(-7 * 24 * time.Hour)
					_, err = appendEntryAt(tx, at, recorder, ActionErasure, cam, map[string]string{
						"from": fmtTime(from), "to": fmtTime(from.Add(time.Hour)), "blocks": "430", "bytes": "1803550720",
						"erased_from": fmtTime(at.Add(-time.Hour)), "erased_to": fmtTime(at), "reason": "retention",
					})
				case slot < o.Cameras*24+o.MachinePerDay:
					cam := "cam" + strconv.Itoa(slot%max(o.Cameras, 1)+1)
					_, err = appendEntryAt(tx, at, recorder, ActionRecordingEvent, cam, map[string]string{
						"kind": "summary", "window_from": fmtTime(at.Add(-10 * time.Minute)), "window_to": fmtTime(at),
						"discontinuity": "3", "discontinuity.first": fmtTime(at.Add(-9 * time.Minute)),
						"discontinuity.last": fmtTime(at.Add(-time.Minute)), "discontinuity.reason": "dts backwards",
					})
				default:
					a := people[slot%len(people)]
					_, err = appendEntryAt(tx, at, a, ActionLogin, a.Fingerprint, map[string]string{
						"remote": "192.0.2.10:52114", "role": a.Role.String(), "session": "3f2a9c1d5e7b8a40",
					})
				}
				if err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, db.Sync()
}
