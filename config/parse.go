package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the appliance may run on a system without zoneinfo

	"gopkg.in/yaml.v3"
)

// parser walks the YAML node tree itself (rather than decoding into
// structs) so that every message can carry the key and its line.
type parser struct {
	file string
	errs Errors
}

func (p *parser) fail(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func parse(data []byte, baseDir, file string) (*Config, error) {
	c := Default()
	c.File = file
	p := &parser{file: file}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		e := &Error{File: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
		}
		return nil, Errors{e}
	}
	dataDirNode, exportDirNode := (*yaml.Node)(nil), (*yaml.Node)(nil)
	storageNode, camerasNode := (*yaml.Node)(nil), (*yaml.Node)(nil)
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		p.mapping(root, "", map[string]func(k, v *yaml.Node, key string){
			"data_dir": func(_, v *yaml.Node, key string) {
				if s, ok := p.str(v, key); ok {
					c.DataDir, dataDirNode = s, v
				}
			},
			"export_dir": func(_, v *yaml.Node, key string) {
				if s, ok := p.str(v, key); ok {
					c.ExportDir, exportDirNode = s, v
				}
			},
			"ssh": func(_, v *yaml.Node, key string) { p.ssh(v, key, &c.SSH) },
			"storage": func(k, v *yaml.Node, key string) {
				storageNode = k
				p.storage(v, key, &c.Storage)
			},
			"retention": func(_, v *yaml.Node, key string) {
				p.mapping(v, key, map[string]func(k, v *yaml.Node, key string){
					"days": func(_, v *yaml.Node, key string) {
						if f, ok := p.float(v, key); ok {
							if f <= 0 || f > 3650 {
								p.fail(v, key, "must be more than 0 and at most 3650 days, got %v", v.Value)
								return
							}
							c.Retention.Days = f
						}
					},
				})
			},
			"policy": func(_, v *yaml.Node, key string) {
				if s, ok := p.oneOf(v, key, PolicyCity, PolicyCompany); ok {
					c.Policy = s
				}
			},
			"policy_overrides": func(_, v *yaml.Node, key string) { p.overrides(v, key, &c.PolicyOverrides) },
			"organization":     func(_, v *yaml.Node, key string) { p.organization(v, key, &c.Organization) },
			"lang": func(_, v *yaml.Node, key string) {
				if s, ok := p.oneOf(v, key, LangJA, LangEN); ok {
					c.Lang = s
				}
			},
			"timezone": func(_, v *yaml.Node, key string) {
				s, ok := p.str(v, key)
				if !ok {
					return
				}
				if _, err := time.LoadLocation(s); err != nil || s == "" {
					p.fail(v, key, "unknown time zone %q (want an IANA name such as Asia/Tokyo)", s)
					return
				}
				c.Timezone = s
			},
			"appliance_id": func(_, v *yaml.Node, key string) {
				if s, ok := p.str(v, key); ok {
					if strings.TrimSpace(s) == "" {
						p.fail(v, key, "must not be empty")
						return
					}
					c.ApplianceID = s
				}
			},
			"cameras": func(k, v *yaml.Node, key string) {
				camerasNode = k
				c.Cameras = p.cameras(v, key)
			},
			"metrics": func(_, v *yaml.Node, key string) { p.metrics(v, key, &c.Metrics) },
			"log":     func(_, v *yaml.Node, key string) { p.log(v, key, &c.Log) },
		})
	}

	if loc, err := time.LoadLocation(c.Timezone); err == nil {
		c.Location = loc
	}
	if storageNode != nil && c.Storage.BlockSize > 0 && c.Storage.Capacity > 0 {
		const minBlocks = 4
		if c.Storage.Capacity/c.Storage.BlockSize < minBlocks {
			p.fail(storageNode, "storage.capacity", "capacity %s holds fewer than %d blocks of %s",
				FormatSize(c.Storage.Capacity), minBlocks, FormatSize(c.Storage.BlockSize))
		}
	}
	// Every camera records into blocks of its own: with fewer than
	// MinBlocksPerCamera each, some camera would find no block and record
	// nothing while showing "connecting".
	if n := len(c.Cameras); n > 0 && c.Storage.BlockSize > 0 {
		blocks := c.Storage.Capacity / c.Storage.BlockSize
		if need := int64(MinBlocksPerCamera * n); blocks < need {
			at, key := storageNode, "storage.capacity"
			if at == nil {
				at, key = camerasNode, "cameras"
			}
			p.fail(at, key, "capacity %s holds %d blocks of %s; %d cameras need at least %d (%d per camera): raise storage.capacity to %s or lower storage.block_size",
				FormatSize(c.Storage.Capacity), blocks, FormatSize(c.Storage.BlockSize), n, need, MinBlocksPerCamera,
				FormatSize(need*c.Storage.BlockSize))
		}
	}

	c.DataDir = p.dir(dataDirNode, "data_dir", resolve(baseDir, c.DataDir))
	if c.ExportDir == "" {
		// Derived from data_dir, so a problem is reported there.
		c.ExportDir = p.dir(dataDirNode, "data_dir", filepath.Join(c.DataDir, "exports"))
	} else {
		c.ExportDir = p.dir(exportDirNode, "export_dir", resolve(baseDir, c.ExportDir))
	}

	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		return nil, p.errs
	}
	return c, nil
}

// mapping checks that n is a mapping with only known, unrepeated keys and
// calls the field's handler for each.
func (p *parser) mapping(n *yaml.Node, prefix string, fields map[string]func(k, v *yaml.Node, key string)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "ssh:" with nothing under it: all defaults
	}
	if n.Kind != yaml.MappingNode {
		name := prefix
		if name == "" {
			name = "(top level)"
		}
		p.fail(n, name, "must be a mapping of keys to values, got %s", kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		if first, dup := seen[k.Value]; dup {
			p.fail(k, key, "given twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		h, ok := fields[k.Value]
		if !ok {
			p.fail(k, key, "unknown key (known here: %s)", knownKeys(fields))
			continue
		}
		h(k, v, key)
	}
}

func knownKeys(fields map[string]func(k, v *yaml.Node, key string)) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func isNull(v *yaml.Node) bool { return v.Kind == yaml.ScalarNode && v.Tag == "!!null" }

// str returns a scalar's text. A null value leaves the default (ok=false).
func (p *parser) str(v *yaml.Node, key string) (string, bool) {
	if isNull(v) {
		return "", false
	}
	if v.Kind != yaml.ScalarNode {
		p.fail(v, key, "must be a single value, got %s", kindName(v))
		return "", false
	}
	return v.Value, true
}

func (p *parser) oneOf(v *yaml.Node, key string, allowed ...string) (string, bool) {
	s, ok := p.str(v, key)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	p.fail(v, key, "must be one of %s, got %q", strings.Join(allowed, ", "), s)
	return "", false
}

func (p *parser) int(v *yaml.Node, key string) (int, bool) {
	s, ok := p.str(v, key)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || v.Tag != "!!int" {
		p.fail(v, key, "must be a whole number, got %q", s)
		return 0, false
	}
	return n, true
}

func (p *parser) float(v *yaml.Node, key string) (float64, bool) {
	s, ok := p.str(v, key)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || (v.Tag != "!!int" && v.Tag != "!!float") || math.IsNaN(f) || math.IsInf(f, 0) {
		p.fail(v, key, "must be a number, got %q", s)
		return 0, false
	}
	return f, true
}

func (p *parser) size(v *yaml.Node, key string) (int64, bool) {
	s, ok := p.str(v, key)
	if !ok {
		return 0, false
	}
	n, err := ParseSize(s)
	if err != nil {
		p.fail(v, key, "%v", err)
		return 0, false
	}
	return n, true
}

func (p *parser) duration(v *yaml.Node, key string) (time.Duration, bool) {
	s, ok := p.str(v, key)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.fail(v, key, "invalid duration %q (want e.g. 30m, 1h, 90s)", s)
		return 0, false
	}
	if d <= 0 {
		p.fail(v, key, "must be more than zero, got %q", s)
		return 0, false
	}
	return d, true
}

func (p *parser) bool(v *yaml.Node, key string) (bool, bool) {
	s, ok := p.str(v, key)
	if !ok {
		return false, false
	}
	if v.Tag != "!!bool" {
		p.fail(v, key, "must be true or false, got %q", s)
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(s))
	if err != nil {
		p.fail(v, key, "must be true or false, got %q", s)
		return false, false
	}
	return b, true
}

// date accepts a calendar date (2024-04-01, taken as UTC midnight) or an
// RFC 3339 time.
func (p *parser) date(v *yaml.Node, key string) (time.Time, bool) {
	s, ok := p.str(v, key)
	if !ok {
		return time.Time{}, false
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	p.fail(v, key, "must be a date like 2024-04-01 (or an RFC 3339 time), got %q", s)
	return time.Time{}, false
}

func (p *parser) overrides(n *yaml.Node, prefix string, o *PolicyOverrides) {
	p.mapping(n, prefix, map[string]func(k, v *yaml.Node, key string){
		"live_view": func(_, v *yaml.Node, key string) {
			if b, ok := p.bool(v, key); ok {
				o.LiveView = &b
			}
		},
		"viewer_grants": func(_, v *yaml.Node, key string) {
			if b, ok := p.bool(v, key); ok {
				o.ViewerGrants = &b
			}
		},
		"max_extension_days": func(_, v *yaml.Node, key string) {
			if d, ok := p.int(v, key); ok {
				if d < 0 || d > 3650 {
					p.fail(v, key, "must be between 0 (no limit) and 3650, got %d", d)
					return
				}
				o.MaxExtensionDays = &d
			}
		},
		"max_managers": func(_, v *yaml.Node, key string) {
			if d, ok := p.int(v, key); ok {
				if d < 0 || d > 100 {
					p.fail(v, key, "must be between 0 (any number) and 100, got %d", d)
					return
				}
				o.MaxManagers = &d
			}
		},
		"inspection_interval_days": func(_, v *yaml.Node, key string) {
			if d, ok := p.int(v, key); ok {
				if d < 0 || d > 3650 {
					p.fail(v, key, "must be between 0 (no schedule) and 3650, got %d", d)
					return
				}
				o.InspectionIntervalDays = &d
			}
		},
	})
}

// organization accepts a name ("organization: 四街道市") or a mapping
// with name, section and addressee.
func (p *parser) organization(n *yaml.Node, key string, o *Organization) {
	text := func(v *yaml.Node, key string, dst *string) {
		s, ok := p.str(v, key)
		if !ok {
			return
		}
		s = strings.TrimSpace(s)
		if len(s) > 200 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			p.fail(v, key, "must be one line of at most 200 bytes")
			return
		}
		*dst = s
	}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		text(n, key, &o.Name)
		return
	}
	p.mapping(n, key, map[string]func(k, v *yaml.Node, key string){
		"name":      func(_, v *yaml.Node, key string) { text(v, key, &o.Name) },
		"section":   func(_, v *yaml.Node, key string) { text(v, key, &o.Section) },
		"addressee": func(_, v *yaml.Node, key string) { text(v, key, &o.Addressee) },
	})
}

func (p *parser) ssh(n *yaml.Node, prefix string, s *SSH) {
	p.mapping(n, prefix, map[string]func(k, v *yaml.Node, key string){
		"listen": func(_, v *yaml.Node, key string) {
			a, ok := p.str(v, key)
			if !ok {
				return
			}
			_, port, err := net.SplitHostPort(a)
			if err != nil {
				p.fail(v, key, "must be host:port (e.g. 127.0.0.1:2222 or :2222), got %q", a)
				return
			}
			if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
				p.fail(v, key, "invalid port %q", port)
				return
			}
			s.Listen = a
		},
		"idle_timeout": func(_, v *yaml.Node, key string) {
			if d, ok := p.duration(v, key); ok {
				s.IdleTimeout = d
			}
		},
		"playback_port": func(_, v *yaml.Node, key string) {
			if n, ok := p.int(v, key); ok {
				if n < 0 || n > 65535 {
					p.fail(v, key, "must be a port number (0 picks a free one), got %d", n)
					return
				}
				s.PlaybackPort = n
			}
		},
		"max_sessions": func(_, v *yaml.Node, key string) {
			if n, ok := p.int(v, key); ok {
				if n < 1 || n > 10000 {
					p.fail(v, key, "must be between 1 and 10000, got %d", n)
					return
				}
				s.MaxSessions = n
			}
		},
	})
}

func (p *parser) metrics(n *yaml.Node, prefix string, m *Metrics) {
	p.mapping(n, prefix, map[string]func(k, v *yaml.Node, key string){
		"listen": func(_, v *yaml.Node, key string) {
			a, ok := p.str(v, key)
			if !ok || a == "" {
				return // off
			}
			if err := checkListen(a); err != nil {
				p.fail(v, key, "%v", err)
				return
			}
			m.Listen = a
		},
	})
}

// checkListen accepts host:port with a port in range ("" host = all
// interfaces, 0 = any free port).
func checkListen(a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("must be host:port (e.g. 127.0.0.1:9464), got %q", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

// ParseLogLevel accepts debug, info, warn (or warning) and error.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("must be one of debug, info, warn, error, got %q", s)
}

func (p *parser) log(n *yaml.Node, prefix string, l *Log) {
	p.mapping(n, prefix, map[string]func(k, v *yaml.Node, key string){
		"level": func(_, v *yaml.Node, key string) {
			s, ok := p.str(v, key)
			if !ok {
				return
			}
			lv, err := ParseLogLevel(s)
			if err != nil {
				p.fail(v, key, "%v", err)
				return
			}
			l.Level = lv
		},
		"format": func(_, v *yaml.Node, key string) {
			if s, ok := p.oneOf(v, key, LogText, LogJSON); ok {
				l.Format = s
			}
		},
	})
}

func (p *parser) storage(n *yaml.Node, prefix string, s *Storage) {
	p.mapping(n, prefix, map[string]func(k, v *yaml.Node, key string){
		"capacity": func(_, v *yaml.Node, key string) {
			if b, ok := p.size(v, key); ok {
				s.Capacity = b
			}
		},
		"block_size": func(_, v *yaml.Node, key string) {
			b, ok := p.size(v, key)
			if !ok {
				return
			}
			// Blocks are written and erased whole; page alignment keeps that cheap.
			if b < 64<<10 || b%4096 != 0 {
				p.fail(v, key, "must be at least 64KiB and a multiple of 4KiB, got %s", v.Value)
				return
			}
			s.BlockSize = b
		},
		"hold_share": func(_, v *yaml.Node, key string) {
			f, ok := p.float(v, key)
			if !ok {
				return
			}
			// At 1 holds could pin the whole ring and stop recording.
			if f < 0 || f >= 1 {
				p.fail(v, key, "must be at least 0 and less than 1, got %s", v.Value)
				return
			}
			s.HoldShare = f
		},
	})
}

var cameraID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)

func (p *parser) cameras(n *yaml.Node, key string) []Camera {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, key, "must be a list of cameras, got %s", kindName(n))
		return nil
	}
	var out []Camera
	idLine := map[string]int{}
	numLine := map[int]int{}
	for i, item := range n.Content {
		prefix := fmt.Sprintf("%s[%d]", key, i)
		cam := Camera{Number: i + 1, Transport: "tcp", Line: item.Line}
		var idNode, urlNode, numNode *yaml.Node
		p.mapping(item, prefix, map[string]func(k, v *yaml.Node, key string){
			"id": func(_, v *yaml.Node, key string) {
				if s, ok := p.str(v, key); ok {
					cam.ID, idNode = s, v
				}
			},
			"number": func(_, v *yaml.Node, key string) {
				if n, ok := p.int(v, key); ok {
					if n < 1 {
						p.fail(v, key, "must be 1 or more, got %d", n)
						return
					}
					cam.Number, numNode = n, v
				}
			},
			"name":      func(_, v *yaml.Node, key string) { cam.Name, _ = p.str(v, key) },
			"location":  func(_, v *yaml.Node, key string) { cam.Location, _ = p.str(v, key) },
			"direction": func(_, v *yaml.Node, key string) { cam.Direction, _ = p.str(v, key) },
			"url": func(_, v *yaml.Node, key string) {
				if s, ok := p.str(v, key); ok {
					cam.URL, urlNode = s, v
				}
			},
			"sign_posted": func(_, v *yaml.Node, key string) { cam.SignPosted, _ = p.bool(v, key) },
			"police_consulted": func(_, v *yaml.Node, key string) {
				if t, ok := p.date(v, key); ok {
					cam.PoliceConsulted = t
				}
			},
			"transport": func(_, v *yaml.Node, key string) {
				if s, ok := p.oneOf(v, key, "tcp", "udp"); ok {
					cam.Transport = s
				}
			},
			"stall_timeout": func(_, v *yaml.Node, key string) {
				if d, ok := p.duration(v, key); ok {
					if d < time.Second || d > time.Hour {
						p.fail(v, key, "must be between 1s and 1h, got %s", d)
						return
					}
					cam.StallTimeout = d
				}
			},
		})
		if item.Kind != yaml.MappingNode {
			continue
		}
		ok := true
		switch {
		case idNode == nil:
			p.fail(item, prefix+".id", "missing: every camera needs an id (e.g. cam1)")
			ok = false
		case !cameraID.MatchString(cam.ID):
			p.fail(idNode, prefix+".id", "invalid camera id %q (letters, digits, - and _, at most 32)", cam.ID)
			ok = false
		default:
			if first, dup := idLine[cam.ID]; dup {
				p.fail(idNode, prefix+".id", "duplicate camera id %q at line %d, already used at line %d", cam.ID, idNode.Line, first)
				ok = false
			} else {
				idLine[cam.ID] = idNode.Line
			}
		}
		line := item.Line
		if numNode != nil {
			line = numNode.Line
		}
		if first, dup := numLine[cam.Number]; dup {
			p.fail(numNode, prefix+".number", "duplicate camera number %d at line %d, already used at line %d", cam.Number, line, first)
			ok = false
		} else {
			numLine[cam.Number] = line
		}
		if urlNode == nil {
			p.fail(item, prefix+".url", "missing: every camera needs a stream url (rtsp://…)")
			ok = false
		} else if err := checkStreamURL(cam.URL); err != nil {
			p.fail(urlNode, prefix+".url", "%v", err)
			ok = false
		}
		if cam.Name == "" {
			cam.Name = cam.ID
		}
		if ok {
			out = append(out, cam)
		}
	}
	return out
}

func checkStreamURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid camera url: %v", redactParseError(err))
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return fmt.Errorf("camera url must start with rtsp:// or rtsps://, got %q", (&url.URL{Scheme: u.Scheme, Host: u.Host}).String())
	}
	if u.Hostname() == "" {
		return errors.New("camera url has no host")
	}
	return nil
}

// redactParseError drops the URL (which may hold a camera password) from a
// url.Parse error.
func redactParseError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func resolve(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	if base == "" {
		base = "."
	}
	abs, err := filepath.Abs(filepath.Join(base, p))
	if err != nil {
		return filepath.Join(base, p)
	}
	return abs
}

// dir makes sure path is a writable directory, creating it if missing.
// Writability is proven by creating and removing a file, since permission
// bits alone do not account for read-only mounts or ACLs.
func (p *parser) dir(n *yaml.Node, key, path string) string {
	if err := os.MkdirAll(path, 0o750); err != nil {
		p.fail(n, key, "cannot create directory %s: %v", path, unwrapPathError(err))
		return path
	}
	fi, err := os.Stat(path)
	if err != nil {
		p.fail(n, key, "cannot use %s: %v", path, unwrapPathError(err))
		return path
	}
	if !fi.IsDir() {
		p.fail(n, key, "%s is not a directory", path)
		return path
	}
	f, err := os.CreateTemp(path, ".mimamori-write-check-*")
	if err != nil {
		p.fail(n, key, "directory %s is not writable: %v", path, unwrapPathError(err))
		return path
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		p.fail(n, key, "directory %s: cannot remove a file in it: %v", path, unwrapPathError(err))
	}
	return path
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
