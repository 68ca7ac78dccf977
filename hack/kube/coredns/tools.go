//go:build tools

// Package tools pins CoreDNS (cluster DNS of the e2e node) for the wrapper module hack/build-kube.sh generates.
package tools

import (
	_ "github.com/coredns/coredns"
)
