// Package datadir owns a node's data directory: an exclusive lock so two
// processes never share one, and the identity file that says which
// cluster and node the directory belongs to (a directory of another
// cluster, or of another node id, is refused).
package datadir

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// identityFile records which cluster and node a data dir belongs to.
const identityFile = "CAIRN_NODE"

// Identity is the content of the identity file.
type Identity struct {
	ClusterID string `json:"cluster_id"`
	NodeID    string `json:"node_id"`
	RaftID    uint64 `json:"raft_id,omitempty"` // 0 until bootstrapped or joined
	Version   string `json:"version"`
}

// Save rewrites the identity file atomically.
func Save(dir string, id *Identity) error {
	b, _ := json.MarshalIndent(id, "", "  ")
	path := filepath.Join(dir, identityFile)
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return fmt.Errorf("%w %s: %v", ErrDataDir, dir, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("%w %s: %v", ErrDataDir, dir, err)
	}
	return nil
}

// ErrDataDir is wrapped by every data-dir ownership error.
var ErrDataDir = errors.New("data dir")

// Open creates or checks the data dir, takes its lock, and returns
// the identity and the lock file (closed on shutdown).
func Open(dir, nodeID, clusterID, version string) (*Identity, *os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("%w %s: %v", ErrDataDir, dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %s: %v", ErrDataDir, dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("%w %s is in use by another cairn process (lock held): stop it or pick another --data-dir", ErrDataDir, dir)
	}
	path := filepath.Join(dir, identityFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var id Identity
		if err := json.Unmarshal(b, &id); err != nil {
			lock.Close()
			return nil, nil, fmt.Errorf("%w %s: unreadable %s: %v", ErrDataDir, dir, identityFile, err)
		}
		if id.NodeID != nodeID {
			lock.Close()
			return nil, nil, fmt.Errorf("%w %s belongs to node %q of cluster %s, not to node %q: start with --node-id %s or use another --data-dir",
				ErrDataDir, dir, id.NodeID, id.ClusterID, nodeID, id.NodeID)
		}
		if clusterID != "" && id.ClusterID != clusterID {
			lock.Close()
			return nil, nil, fmt.Errorf("%w %s belongs to cluster %s, not %s: use another --data-dir", ErrDataDir, dir, id.ClusterID, clusterID)
		}
		return &id, lock, nil
	case errors.Is(err, os.ErrNotExist):
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != "LOCK" {
				lock.Close()
				return nil, nil, fmt.Errorf("%w %s is not empty and is not a cairn data dir (no %s): use an empty or new --data-dir", ErrDataDir, dir, identityFile)
			}
		}
		if clusterID == "" {
			var r [8]byte
			if _, err := rand.Read(r[:]); err != nil {
				lock.Close()
				return nil, nil, err
			}
			clusterID = hex.EncodeToString(r[:])
		}
		id := &Identity{ClusterID: clusterID, NodeID: nodeID, Version: version}
		b, _ := json.MarshalIndent(id, "", "  ")
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			lock.Close()
			return nil, nil, fmt.Errorf("%w %s: %v", ErrDataDir, dir, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			lock.Close()
			return nil, nil, fmt.Errorf("%w %s: %v", ErrDataDir, dir, err)
		}
		return id, lock, nil
	default:
		lock.Close()
		return nil, nil, fmt.Errorf("%w %s: %v", ErrDataDir, dir, err)
	}
}
