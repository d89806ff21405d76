package video

// majority3 writes into dst 1 where at least 5 of the 3×3 neighbourhood
// of src (0/1 bytes, w×h) are 1, else 0: a binary median filter.
// Isolated specks of compression noise and one-pixel spurs go; shapes two
// pixels wide or more, such as a child's forearm, stay. Beyond the frame
// the nearest edge pixel repeats, so a walker entering at the border is
// not eaten away there.
func majority3(src, dst []byte, w, h int) {
	for y := 0; y < h; y++ {
		up, dn := max(y-1, 0), min(y+1, h-1)
		a, b, c := src[up*w:(up+1)*w], src[y*w:(y+1)*w], src[dn*w:(dn+1)*w]
		d := dst[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			l, r := max(x-1, 0), min(x+1, w-1)
			if a[l]+a[x]+a[r]+b[l]+b[x]+b[r]+c[l]+c[x]+c[r] >= 5 {
				d[x] = 1
			} else {
				d[x] = 0
			}
		}
	}
}
