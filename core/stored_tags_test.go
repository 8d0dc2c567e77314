package core

import (
	"encoding"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var updateStored = flag.Bool("update-stored", false, "rewrite testdata/stored_fields.golden")

// storedJSON names the Go type of the JSON records kept in each bucket
// (or under one key). A new bucket or stored record must be added here.
var storedJSON = map[string]any{
	"cameras":                Camera{},
	"holds":                  Hold{},
	"inquiries":              Inquiry{},
	"keys":                   Key{},
	"refused":                RefusedKey{},
	"maintenance":            MaintenanceRecord{},
	"requests":               Request{},
	"grants":                 Grant{},
	"meta/export_passphrase": storedPass{},
	"erasure_pending":        pendingErasure{},
	"custody":                CustodyRecord{},
	"layouts":                LayoutPlan{},
}

// storedRaw are buckets whose values are not JSON records (their layout
// is documented where they are written).
var storedRaw = []string{"meta", "ledger", "erasure_window", "erasure_recent", "counters", "layout_files", "tlog"}

// TestStoredFieldsHaveExplicitTags walks every stored record type and
// checks that each exported field has an explicit JSON name (so renaming
// a Go field cannot silently lose data), and that no name stored before
// has disappeared: testdata/stored_fields.golden is the stored schema.
// After adding a field on purpose, run
//
//	go test ./core -run TestStoredFieldsHaveExplicitTags -update-stored
func TestStoredFieldsHaveExplicitTags(t *testing.T) {
	for _, b := range allBuckets {
		_, isJSON := storedJSON[string(b)]
		if !isJSON && !slices.Contains(storedRaw, string(b)) {
			t.Errorf("bucket %q is in neither storedJSON nor storedRaw: say what it stores", b)
		}
	}
	var lines []string
	for where, v := range storedJSON {
		walkStored(t, where, reflect.TypeOf(v), map[reflect.Type]bool{}, &lines)
	}
	sort.Strings(lines)
	const golden = "testdata/stored_fields.golden"
	if *updateStored {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(raw)), "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("stored field %s is gone: records written before would lose it (keep the tag, or add a migration and update the golden file)", w)
		}
	}
	for _, l := range lines {
		if !slices.Contains(want, l) {
			t.Errorf("new stored field %s: if intended, run go test ./core -run TestStoredFieldsHaveExplicitTags -update-stored", l)
		}
	}
}

var (
	textMarshaler = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	jsonMarshaler = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	timeType      = reflect.TypeOf(time.Time{})
)

// walkStored appends "where.Field: name type" for every stored field of
// t, descending into nested records.
func walkStored(t *testing.T, where string, typ reflect.Type, seen map[reflect.Type]bool, out *[]string) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || typ == timeType || typ.Implements(textMarshaler) || typ.Implements(jsonMarshaler) || seen[typ] {
		return
	}
	seen[typ] = true
	defer delete(seen, typ)
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, hasTag := f.Tag.Lookup("json")
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && !hasTag {
			walkStored(t, where, f.Type, seen, out) // embedded: its fields are flattened
			continue
		}
		if name == "" {
			t.Errorf("%s: field %s.%s has no explicit JSON name (tag it `json:\"%s\"`)", where, typ.Name(), f.Name, f.Name)
			continue
		}
		if name == "-" {
			continue
		}
		*out = append(*out, where+"."+name+": "+f.Type.String())
		walkStored(t, where+"."+name, f.Type, seen, out)
	}
}
