package ring

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestRoundTripAndRangeQuery(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	id, err := r.AppendInit("cam1", initFor("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := r.AppendInit("cam1", initFor("cam1")); err != nil || again != id {
		t.Fatalf("same init again: id %d err %v, want %d", again, err, id)
	}
	// 0..9, a 10 s hole, then 20..29; sizes vary and are not multiples of 8.
	for _, i := range append(seq(0, 10), seq(20, 30)...) {
		st := t0.Add(time.Duration(i) * time.Second)
		if err := r.AppendFragment(Fragment{Camera: "cam1", Start: st, Duration: time.Second,
			Keyframe: i%5 == 0, InitID: id, Payload: payloadFor("cam1", i, 1000+i*7)}); err != nil {
			t.Fatal(err)
		}
	}
	// Not visible before Sync: the index never runs ahead of the data.
	if refs, _ := r.Fragments("cam1", t0, t0.Add(time.Hour)); len(refs) != 0 {
		t.Fatalf("%d fragments visible before Sync", len(refs))
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	check := func(r *Ring) {
		t.Helper()
		refs, err := r.Fragments("cam1", t0.Add(2500*time.Millisecond), t0.Add(22*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, f := range refs {
			got = append(got, fragIndex(f))
			p, err := r.ReadFragment(f)
			if err != nil {
				t.Fatal(err)
			}
			want := payloadFor("cam1", fragIndex(f), 1000+fragIndex(f)*7)
			if !bytes.Equal(p, want) || f.Length != int64(len(want)) {
				t.Fatalf("fragment %d not bit exact", fragIndex(f))
			}
			if f.Keyframe != (fragIndex(f)%5 == 0) || f.InitID != id || f.Duration != time.Second {
				t.Fatalf("fragment %d metadata: %+v", fragIndex(f), f)
			}
		}
		// 2 contains 2.5 s; 22 starts at the end bound and is excluded.
		want := []int{2, 3, 4, 5, 6, 7, 8, 9, 20, 21}
		if !equalInts(got, want) {
			t.Fatalf("range query: got %v want %v", got, want)
		}
		spans, err := r.Coverage("cam1", t0, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(spans) != 2 || !spans[0].Start.Equal(t0) || !spans[0].End.Equal(t0.Add(10*time.Second)) ||
			!spans[1].Start.Equal(t0.Add(20*time.Second)) || !spans[1].End.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("coverage: %+v", spans)
		}
		init, err := r.Init("cam1", id)
		if err != nil || !bytes.Equal(init, initFor("cam1")) {
			t.Fatalf("Init: %v", err)
		}
		if _, err := r.Init("cam1", id+1); !errors.Is(err, ErrUnknownInit) {
			t.Fatalf("unknown init: %v", err)
		}
	}
	check(r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = mustOpen(t, e.tinyOpts())
	defer r.Close()
	check(r)
	// A tampered byte is caught by the CRC and SHA checks. Flipped, not
	// set: the ciphertext byte there is 0xff one run in 256, and writing
	// 0xff over it changed nothing.
	refs, _ := r.Fragments("cam1", t0, t0.Add(time.Second))
	invertByte(t, r.f, int64(refs[0].Block)*r.bs+refs[0].Offset+10)
	if _, err := r.ReadFragment(refs[0]); err == nil {
		t.Fatal("tampered fragment read back without error")
	}
}

func TestAppendValidation(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	if err := r.AppendFragment(Fragment{Camera: "cam1", Start: t0, Duration: time.Second, InitID: 1, Payload: []byte("x")}); !errors.Is(err, ErrUnknownInit) {
		t.Fatalf("fragment without init: %v", err)
	}
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	if err := r.AppendFragment(Fragment{Camera: "cam1", Start: t0, InitID: id, Payload: make([]byte, 64<<10)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized fragment: %v", err)
	}
	if err := r.AppendFragment(Fragment{Camera: "", Start: t0, InitID: id, Payload: []byte("x")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no camera: %v", err)
	}
}

func TestGeometryMismatch(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	r.Close()
	o := e.tinyOpts()
	o.Capacity *= 2
	if _, err := Open(o); !errors.Is(err, ErrGeometry) {
		t.Fatalf("reopen with other capacity: %v", err)
	}
}

func seq(a, b int) []int {
	var s []int
	for i := a; i < b; i++ {
		s = append(s, i)
	}
	return s
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
