// Package deploy holds what runs mimamori outside Go: the Prometheus alert
// rules and their unit tests (prometheus/) and the systemd unit
// (systemd/). It has no code; its tests check those files with promtool
// and systemd-analyze where installed, and in pure Go everywhere.
package deploy
