package viewsm

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Cache holds clean view rows (equal to what the engine has committed)
// for every view shard of a node, within a byte budget. View shards read
// a row from it before going to Pebble; rows changed since a view shard's
// last checkpoint are not in it (the shard keeps those itself). Eviction
// is CLOCK: a row read since the hand last passed it gets a second
// chance. A nil *Cache caches nothing.
//
// Each view shard names its rows with an id it takes from the cache
// (NewID) and renews when its state is replaced (Load after a snapshot),
// so the rows of a replaced state are never read again and age out.
type Cache struct {
	budget int64
	seed   maphash.Seed
	shards [cacheShards]cacheShard
	hits   atomic.Uint64
	misses atomic.Uint64
	nextID atomic.Uint64
}

const cacheShards = 16

// cacheOverhead approximates the bytes an entry costs beyond its key and
// value (the map slot, the entry, the slice headers).
const cacheOverhead = 96

type cacheKey struct {
	id  uint64
	key string
}

type cacheEnt struct {
	k    cacheKey
	v    []byte // never modified once cached
	ref  bool   // read since the hand last passed
	used bool
}

type cacheShard struct {
	mu     sync.Mutex
	budget int64
	bytes  int64
	idx    map[cacheKey]int32
	ents   []cacheEnt
	free   []int32
	hand   int
}

// NewCache returns a cache of budget bytes (at least 16 KiB is useful; 0
// or less returns nil: no cache).
func NewCache(budget int64) *Cache {
	if budget <= 0 {
		return nil
	}
	c := &Cache{budget: budget, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].budget = budget / cacheShards
		c.shards[i].idx = map[cacheKey]int32{}
	}
	return c
}

// Budget returns the cache's byte budget.
func (c *Cache) Budget() int64 {
	if c == nil {
		return 0
	}
	return c.budget
}

// Stats returns the bytes held and the lookups that hit and missed.
func (c *Cache) Stats() (bytes int64, hits, misses uint64) {
	if c == nil {
		return 0, 0, 0
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		bytes += s.bytes
		s.mu.Unlock()
	}
	return bytes, c.hits.Load(), c.misses.Load()
}

// NewID returns a fresh name for one view shard state's rows.
func (c *Cache) NewID() uint64 {
	if c == nil {
		return 0
	}
	return c.nextID.Add(1)
}

func (c *Cache) shard(k cacheKey) *cacheShard {
	h := maphash.String(c.seed, k.key) ^ (k.id * 0x9e3779b97f4a7c15)
	return &c.shards[h%cacheShards]
}

// get returns the cached row (which the caller must not modify) and
// counts a hit or a miss.
func (c *Cache) get(id uint64, key []byte) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	k := cacheKey{id, string(key)}
	s := c.shard(k)
	s.mu.Lock()
	i, ok := s.idx[k]
	var v []byte
	if ok {
		s.ents[i].ref = true
		v = s.ents[i].v
	}
	s.mu.Unlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, ok
}

// put caches v (which it keeps: the caller must not modify it after).
func (c *Cache) put(id uint64, key string, v []byte) {
	if c == nil {
		return
	}
	k := cacheKey{id, key}
	size := int64(len(key) + len(v) + cacheOverhead)
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.idx[k]
	if ok {
		e := &s.ents[i]
		s.bytes += int64(len(v) - len(e.v))
		e.v = v
	} else {
		if size > s.budget {
			return
		}
		if n := len(s.free); n > 0 {
			i = s.free[n-1]
			s.free = s.free[:n-1]
		} else {
			s.ents = append(s.ents, cacheEnt{})
			i = int32(len(s.ents) - 1)
		}
		s.ents[i] = cacheEnt{k: k, v: v, used: true}
		s.idx[k] = i
		s.bytes += size
	}
	s.evictLocked(i)
}

// del drops a cached row.
func (c *Cache) del(id uint64, key string) {
	if c == nil {
		return
	}
	k := cacheKey{id, key}
	s := c.shard(k)
	s.mu.Lock()
	if i, ok := s.idx[k]; ok {
		s.removeLocked(i)
	}
	s.mu.Unlock()
}

func (s *cacheShard) removeLocked(i int32) {
	e := &s.ents[i]
	s.bytes -= int64(len(e.k.key) + len(e.v) + cacheOverhead)
	delete(s.idx, e.k)
	*e = cacheEnt{}
	s.free = append(s.free, i)
}

// evictLocked moves the hand until the shard fits its budget, passing
// over entry keep (the row just put, which gets a turn to be read). Each
// step clears a reference bit or evicts, so two turns suffice.
func (s *cacheShard) evictLocked(keep int32) {
	for steps := 0; s.bytes > s.budget && steps < 2*len(s.ents)+1; steps++ {
		if s.hand >= len(s.ents) {
			s.hand = 0
		}
		e := &s.ents[s.hand]
		switch {
		case !e.used || s.hand == int(keep):
		case e.ref:
			e.ref = false
		default:
			s.removeLocked(int32(s.hand))
		}
		s.hand++
	}
}
