module github.com/gaitord/gaitord/bench/gocv

go 1.26.0

require gocv.io/x/gocv v0.25.0
