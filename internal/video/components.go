package video

// blob is one 8-connected component of a foreground mask.
type blob struct {
	label          int32 // its value in the label image
	area           int
	x0, y0, x1, y1 int // bounding box, inclusive
}

// labeller finds the 8-connected components of w×h masks; it keeps its
// buffers between frames.
type labeller struct {
	w, h   int
	labels []int32 // per pixel: 0 background, else a blob's label
	parent []int32 // union-find over provisional labels
	stack  []int   // flood-fill scratch
	seen   []bool  // flood-fill scratch
}

// newLabeller returns a labeller for w×h masks.
func newLabeller(w, h int) *labeller {
	return &labeller{w: w, h: h, labels: make([]int32, w*h)}
}

// label labels the pixels of m (non-zero is foreground) in two passes with
// union-find and returns the components, in raster order of their first
// pixel, with labels 1, 2, …; l.labels holds the label image.
func (l *labeller) label(m []byte) []blob {
	w, h := l.w, l.h
	L := l.labels
	l.parent = append(l.parent[:0], 0)
	find := func(a int32) int32 {
		for l.parent[a] != a {
			l.parent[a] = l.parent[l.parent[a]]
			a = l.parent[a]
		}
		return a
	}
	union := func(a, b int32) int32 {
		a, b = find(a), find(b)
		if a < b {
			l.parent[b] = a
			return a
		}
		l.parent[a] = b
		return b
	}
	for y := 0; y < h; y++ {
		row := m[y*w : (y+1)*w]
		lab := L[y*w : (y+1)*w]
		var up []int32
		if y > 0 {
			up = L[(y-1)*w : y*w]
		}
		for x, v := range row {
			if v == 0 {
				lab[x] = 0
				continue
			}
			var c int32
			if x > 0 && lab[x-1] != 0 {
				c = lab[x-1]
			}
			if up != nil {
				for _, nx := range [3]int{x - 1, x, x + 1} {
					if nx < 0 || nx >= w || up[nx] == 0 {
						continue
					}
					if c == 0 {
						c = up[nx]
					} else if up[nx] != c {
						c = union(c, up[nx])
					}
				}
			}
			if c == 0 {
				c = int32(len(l.parent))
				l.parent = append(l.parent, c)
			}
			lab[x] = c
		}
	}
	// resolve to consecutive labels in raster order and gather statistics
	final := make([]int32, len(l.parent))
	var blobs []blob
	for i := range L {
		if L[i] == 0 {
			continue
		}
		root := find(L[i])
		if final[root] == 0 {
			blobs = append(blobs, blob{label: int32(len(blobs) + 1), x0: w, y0: h, x1: -1, y1: -1})
			final[root] = int32(len(blobs))
		}
		f := final[root]
		L[i] = f
		b := &blobs[f-1]
		x, y := i%w, i/w
		b.area++
		b.x0, b.x1 = min(b.x0, x), max(b.x1, x)
		b.y0, b.y1 = min(b.y0, y), max(b.y1, y)
	}
	return blobs
}

// fillHoles relabels as b every pixel inside b's bounding box that is not
// b's and cannot reach the box's edge through other such pixels
// (4-connected): the holes a camouflaged patch of clothing leaves. It
// updates b's area, and calls absorbed with the label of every
// other blob that had pixels in a hole.
func (l *labeller) fillHoles(b *blob, absorbed func(label int32)) {
	w := l.w
	bw, bh := b.x1-b.x0+1, b.y1-b.y0+1
	if bw < 3 || bh < 3 {
		return
	}
	n := bw * bh
	if cap(l.seen) < n {
		l.seen = make([]bool, n)
	}
	seen := l.seen[:n]
	clear(seen)
	st := l.stack[:0]
	push := func(x, y int) {
		k := y*bw + x
		if !seen[k] && l.labels[(y+b.y0)*w+x+b.x0] != b.label {
			seen[k] = true
			st = append(st, k)
		}
	}
	for x := 0; x < bw; x++ {
		push(x, 0)
		push(x, bh-1)
	}
	for y := 0; y < bh; y++ {
		push(0, y)
		push(bw-1, y)
	}
	for len(st) > 0 {
		k := st[len(st)-1]
		st = st[:len(st)-1]
		x, y := k%bw, k/bw
		if x > 0 {
			push(x-1, y)
		}
		if x < bw-1 {
			push(x+1, y)
		}
		if y > 0 {
			push(x, y-1)
		}
		if y < bh-1 {
			push(x, y+1)
		}
	}
	l.stack = st
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			i := (y+b.y0)*w + x + b.x0
			if !seen[y*bw+x] && l.labels[i] != b.label {
				if l.labels[i] != 0 {
					absorbed(l.labels[i])
				}
				l.labels[i] = b.label
				b.area++
			}
		}
	}
}
