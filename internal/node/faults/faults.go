// Package faults is the fault injection that only tests switch on
// (cairn start --unsafe-test-faults): a disk that fails or stalls its
// synced writes, and POST /debug/faults, which also cuts this node's
// network traffic to chosen peers through the transport's injector.
package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cairndb/cairn/internal/transport"
)

// Disk makes this node's raft store fail or stall its synced writes
// (its SyncFault hook). The zero value injects nothing.
type Disk struct {
	mode    atomic.Int32 // diskOK, diskFail or diskStall
	stallMs atomic.Int64 // with diskStall: how long each sync blocks
}

const (
	diskOK int32 = iota
	diskFail
	diskStall
)

// maxDiskStall bounds a stall, so a forgotten one ends on its own.
const maxDiskStall = 30 * time.Second

// errInjectedDiskFailure is the error an injected disk failure reports.
var errInjectedDiskFailure = errors.New("fsync failed: injected disk fault (POST /debug/faults {\"disk\":\"fail\"})")

// SyncFault is called by the raft store before each synced commit: it
// blocks while the disk is stalled, and fails once the disk is failed (the
// store then ends the process as after a real fsync error).
func (d *Disk) SyncFault() error {
	switch d.mode.Load() {
	case diskFail:
		return errInjectedDiskFailure
	case diskStall:
		time.Sleep(time.Duration(d.stallMs.Load()) * time.Millisecond)
	}
	return nil
}

// Hook is the store's SyncFault hook, nil (no cost) when d is nil.
func (d *Disk) Hook() func() error {
	if d == nil {
		return nil
	}
	return d.SyncFault
}

func (d *Disk) set(mode int32, ms int64) {
	d.stallMs.Store(ms)
	d.mode.Store(mode)
}

// faultRequest is the body of POST /debug/faults (test-only). Exactly one
// of: cut this node's traffic to and from nodes (by name), heal every
// fault (network and disk), or set this node's disk fault.
type faultRequest struct {
	Isolate   string    `json:"isolate,omitempty"`   // cut this node from every other
	Partition [2]string `json:"partition,omitempty"` // cut these two from each other
	Heal      bool      `json:"heal,omitempty"`
	// Disk: "fail" (every later synced write fails: the node exits),
	// "stall" (each synced write blocks Ms milliseconds, 1..30000) or
	// "ok" (no disk fault).
	Disk string `json:"disk,omitempty"`
	Ms   int64  `json:"ms,omitempty"`
	// Delay holds every frame and call from this node to node Delay
	// back by Ms milliseconds (0 ends it): a simulated link between
	// regions (issue 15).
	Delay string `json:"delay,omitempty"`
}

// Handler serves POST /debug/faults: net is the transport's injector,
// disk this node's (nil: none), id maps a node name to its raft id ("":
// this node).
func Handler(net *transport.Faults, disk *Disk, id func(name string) (uint64, bool), log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serve(w, r, net, disk, id, log) })
}

func serve(w http.ResponseWriter, r *http.Request, net *transport.Faults, disk *Disk, id func(name string) (uint64, bool), log *slog.Logger) {
	var req faultRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "malformed fault: "+err.Error(), http.StatusBadRequest)
		return
	}
	if dec.More() {
		http.Error(w, "malformed fault: one JSON object expected", http.StatusBadRequest)
		return
	}
	actions := 0
	for _, set := range []bool{req.Isolate != "", req.Partition != [2]string{}, req.Heal, req.Disk != "", req.Delay != ""} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		http.Error(w, `say exactly one of isolate, partition, heal, disk or delay, e.g. {"isolate":"n2"}, {"partition":["n1","n2"]}, {"heal":true}, {"disk":"fail"}, {"disk":"stall","ms":2000}, {"disk":"ok"}, {"delay":"n3","ms":40}`, http.StatusBadRequest)
		return
	}
	if req.Ms != 0 && req.Disk != "stall" && req.Delay == "" {
		http.Error(w, `"ms" goes with {"disk":"stall"} or {"delay":…} only`, http.StatusBadRequest)
		return
	}
	switch {
	case req.Heal:
		net.HealAll()
		if disk != nil {
			disk.set(diskOK, 0)
		}
	case req.Delay != "":
		to, ok := id(req.Delay)
		self, okSelf := id("")
		if !ok || !okSelf {
			http.Error(w, "no node "+req.Delay, http.StatusBadRequest)
			return
		}
		if req.Ms < 0 || req.Ms > maxDiskStall.Milliseconds() {
			http.Error(w, fmt.Sprintf(`{"delay":…} needs "ms" between 0 and %d`, maxDiskStall.Milliseconds()), http.StatusBadRequest)
			return
		}
		net.SetDelay(self, to, time.Duration(req.Ms)*time.Millisecond)
	case req.Isolate != "":
		x, ok := id(req.Isolate)
		if !ok {
			http.Error(w, "no node "+req.Isolate, http.StatusBadRequest)
			return
		}
		net.Isolate(x)
	case req.Partition != [2]string{}:
		a, ok1 := id(req.Partition[0])
		b, ok2 := id(req.Partition[1])
		if !ok1 || !ok2 {
			http.Error(w, "unknown node in partition", http.StatusBadRequest)
			return
		}
		net.Partition(a, b)
	default:
		if disk == nil {
			http.Error(w, "this node has no disk fault injector", http.StatusBadRequest)
			return
		}
		switch req.Disk {
		case "ok":
			disk.set(diskOK, 0)
		case "fail":
			disk.set(diskFail, 0)
		case "stall":
			if req.Ms < 1 || req.Ms > maxDiskStall.Milliseconds() {
				http.Error(w, fmt.Sprintf(`{"disk":"stall"} needs "ms" between 1 and %d`, maxDiskStall.Milliseconds()), http.StatusBadRequest)
				return
			}
			disk.set(diskStall, req.Ms)
		default:
			http.Error(w, fmt.Sprintf("unknown disk fault %q: say %s", req.Disk, strings.Join([]string{"fail", "stall", "ok"}, ", ")), http.StatusBadRequest)
			return
		}
	}
	log.Warn("test fault injected", "request", req)
	w.WriteHeader(http.StatusNoContent)
}
