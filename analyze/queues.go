package analyze

// The timeline's queues: a heap and a queue of runs of items, in timeline
// order.

const minInt64 = -1 << 63

// itemHeap is a binary min-heap of items in timeline order. Entries carry
// the item's first sort keys, which decide almost every comparison without
// a look at the item itself: its time, then its kind and k1 in one number
// (audit events share milliseconds).
type itemHeap []heapEntry

type heapEntry struct {
	t  int64
	k  uint64 // kind<<62 | k1, k1 clamped: ordered as (kind, k1)
	it *item
}

func entryOf(it *item) heapEntry {
	return heapEntry{it.t, uint64(it.kind)<<62 | min(it.k1, 1<<62-1), it}
}

func (a heapEntry) less(b heapEntry) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	if a.k != b.k {
		return a.k < b.k
	}
	return compareItems(a.it, b.it) < 0
}

func (h *itemHeap) push(it *item) {
	*h = append(*h, entryOf(it))
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// min is the earliest item; the heap must not be empty.
func (h itemHeap) min() *item { return h[0].it }

func (h *itemHeap) pop() *item {
	s := *h
	top := s[0].it
	n := len(s) - 1
	s[0] = s[n]
	s[n] = heapEntry{}
	s = s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].less(s[l]) {
			m = r
		}
		if !s[m].less(s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// itemQueue holds the pending items in timeline order. Each source's items
// arrive almost in order (audit events by serial, proc connector events as
// the kernel sends them): an item that sorts after the last one of its
// source goes at the end of that source's run, a sorted queue; the others
// go to a heap. The earliest item is the first of a run or the heap's top.
type itemQueue struct {
	runs [3]itemRun // by itemKind
	heap itemHeap
	n    int
}

// itemRun is a sorted queue of items.
type itemRun struct {
	items []heapEntry
	head  int
}

func (q *itemQueue) len() int { return q.n }

func (q *itemQueue) push(it *item) {
	q.n++
	e := entryOf(it)
	r := &q.runs[it.kind]
	if r.head == len(r.items) || !e.less(r.items[len(r.items)-1]) {
		if r.head > 0 && r.head == len(r.items) {
			r.items, r.head = r.items[:0], 0
		}
		r.items = append(r.items, e)
		return
	}
	q.heap.push(it)
}

// first returns where the earliest item is: a run, or nil for the heap.
func (q *itemQueue) first() *itemRun {
	var best *itemRun
	var e heapEntry
	for i := range q.runs {
		r := &q.runs[i]
		if r.head < len(r.items) && (best == nil || r.items[r.head].less(e)) {
			best, e = r, r.items[r.head]
		}
	}
	if len(q.heap) > 0 && (best == nil || q.heap[0].less(e)) {
		return nil
	}
	return best
}

// min is the earliest item; the queue must not be empty.
func (q *itemQueue) min() *item {
	if r := q.first(); r != nil {
		return r.items[r.head].it
	}
	return q.heap.min()
}

func (q *itemQueue) pop() *item {
	q.n--
	r := q.first()
	if r == nil {
		return q.heap.pop()
	}
	it := r.items[r.head].it
	r.items[r.head] = heapEntry{}
	r.head++
	if r.head >= 4096 && r.head*2 >= len(r.items) {
		r.items = r.items[:copy(r.items, r.items[r.head:])]
		r.head = 0
	}
	return it
}
