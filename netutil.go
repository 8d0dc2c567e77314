package main

import "net"

// splitHostPort is net.SplitHostPort with an empty host read as loopback,
// so printed ssh lines always work.
func splitHostPort(addr string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return host, port, err
}
