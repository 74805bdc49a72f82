// Package lru implements a fixed-size, least-recently-used cache that is safe
// for concurrent use.
package lru

import (
	"container/list"
	"errors"
	"sync"
)

// ErrInvalidSize is returned by New when the capacity is not positive.
var ErrInvalidSize = errors.New("lru: size must be positive")

// EvictCallback is called with the key and value of every evicted entry.
type EvictCallback[K comparable, V any] func(key K, value V)

type entry[K comparable, V any] struct {
	key   K
	value V
}

// Cache is a thread-safe fixed size LRU cache.
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	size    int
	ll      *list.List
	items   map[K]*list.Element
	onEvict EvictCallback[K, V]
}

// Stats reports how a cache has been used.
type Stats struct {
	Hits, Misses, Evictions uint64
}

// New creates a cache holding at most size entries.
func New[K comparable, V any](size int, onEvict EvictCallback[K, V]) (*Cache[K, V], error) {
	if size <= 0 {
		return nil, ErrInvalidSize
	}
	return &Cache[K, V]{
		size:    size,
		ll:      list.New(),
		items:   make(map[K]*list.Element, size),
		onEvict: onEvict,
	}, nil
}

// Add adds a value to the cache and reports whether an eviction occurred.
func (c *Cache[K, V]) Add(key K, value V) (evicted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		el.Value.(*entry[K, V]).value = value
		return false
	}
	el := c.ll.PushFront(&entry[K, V]{key, value})
	c.items[key] = el
	if c.ll.Len() > c.size {
		c.removeOldest()
		return true
	}
	return false
}

// Get looks up a key's value and marks it as recently used.
func (c *Cache[K, V]) Get(key K) (value V, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, hit := c.items[key]; hit {
		c.ll.MoveToFront(el)
		return el.Value.(*entry[K, V]).value, true
	}
	return value, false
}

// Remove removes the provided key from the cache.
func (c *Cache[K, V]) Remove(key K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeElement(el)
		return true
	}
	return false
}

// Len returns the number of items in the cache.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// Keys returns the keys in the cache, from oldest to newest.
func (c *Cache[K, V]) Keys() []K {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]K, 0, len(c.items))
	for el := c.ll.Back(); el != nil; el = el.Prev() {
		keys = append(keys, el.Value.(*entry[K, V]).key)
	}
	return keys
}

func (c *Cache[K, V]) removeOldest() {
	if el := c.ll.Back(); el != nil {
		c.removeElement(el)
	}
}

func (c *Cache[K, V]) removeElement(el *list.Element) {
	c.ll.Remove(el)
	kv := el.Value.(*entry[K, V])
	delete(c.items, kv.key)
	if c.onEvict != nil {
		c.onEvict(kv.key, kv.value)
	}
}
