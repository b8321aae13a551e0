//go:build race

package raftstore

// raceEnabled: the race detector slows everything several times, the
// idle loop included; CPU bounds allow for it.
const raceEnabled = true
