package serve

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gaitord/gaitord/internal/torchx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names, as /metrics shows them (docs/serve.md lists them).
const (
	metricRequests     = "gaitord_http_requests_total"
	metricLatency      = "gaitord_http_request_duration_seconds"
	metricBatchSize    = "gaitord_batch_size"
	metricForward      = "gaitord_batch_forward_seconds"
	metricQueueDepth   = "gaitord_queue_depth"
	metricDropped      = "gaitord_dropped_inputs_total"
	metricModelLoad    = "gaitord_model_load_seconds"
	metricReloads      = "gaitord_model_reloads_total"
	metricModelGen     = "gaitord_model_generation"
	metricPrecision    = "gaitord_model_precision"
	metricPredictions  = "gaitord_predictions_total"
	metricPadRows      = "gaitord_batch_padding_rows_total"
	metricMallocInUse  = "gaitord_malloc_inuse_bytes"
	metricMallocFree   = "gaitord_malloc_free_bytes"
	metricMallocMmap   = "gaitord_malloc_mmap_bytes"
	statusClientClosed = 499 // the client went away before its answer (logged and counted only)
)

// serverMetrics are the Prometheus metrics of one server, on their own
// registry (with the Go and process collectors: goroutines, GC, RSS).
type serverMetrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	batchSize   prometheus.Histogram
	forward     prometheus.Histogram
	queueDepth  prometheus.Gauge
	dropped     *prometheus.CounterVec
	modelLoad   prometheus.Gauge
	reloads     *prometheus.CounterVec
	generation  prometheus.Gauge
	precision   *prometheus.GaugeVec
	predictions prometheus.Counter
	padRows     prometheus.Counter
}

func newMetrics() *serverMetrics {
	m := &serverMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricRequests,
			Help: "HTTP requests answered, by route and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metricLatency,
			Help:    "Time from a request's arrival to its answer, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"route"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricBatchSize,
			Help:    "GEIs per forward pass.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}}),
		forward: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricForward,
			Help:    "Duration of one forward pass (a whole batch).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricQueueDepth,
			Help: "GEIs waiting for a forward pass."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricDropped,
			Help: "Queued GEIs dropped unrun, by reason (client_gone, deadline)."}, []string{"reason"}),
		modelLoad: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricModelLoad,
			Help: "Seconds the model in service took to load (read, hash, build, warm-up pass)."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricReloads,
			Help: "Checkpoint reloads, by result (ok, refused)."}, []string{"result"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricModelGen,
			Help: "Models loaded by this process so far (1, then +1 per reload)."}),
		precision: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricPrecision,
			Help: "1 for the precision the model in service runs at (fp32, int8: --precision)."}, []string{"precision"}),
		predictions: prometheus.NewCounter(prometheus.CounterOpts{Name: metricPredictions,
			Help: "Predictions returned."}),
		padRows: prometheus.NewCounter(prometheus.CounterOpts{Name: metricPadRows,
			Help: "Zero rows added to forward passes to run them at a fixed batch size (--pad-batches)."}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.batchSize, m.forward, m.queueDepth, m.dropped, m.modelLoad,
		m.reloads, m.generation, m.precision, m.predictions, m.padRows,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricMallocInUse,
			Help: "Bytes of the C heap (glibc malloc: libtorch, oneDNN, OpenBLAS) allocated and not freed."},
			func() float64 { return float64(torchx.Malloc().InUse) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricMallocFree,
			Help: "Bytes glibc malloc holds in its arenas unused (fragmentation)."},
			func() float64 { return float64(torchx.Malloc().Free) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricMallocMmap,
			Help: "Bytes of the C heap in mmap-served blocks."},
			func() float64 { return float64(torchx.Malloc().Mmap) }))
	for _, r := range []string{"ok", "refused"} {
		m.reloads.WithLabelValues(r)
	}
	for _, r := range []string{"client_gone", "deadline"} {
		m.dropped.WithLabelValues(r)
	}
	return m
}

func (m *serverMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *serverMetrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// The batch.Observer methods.

func (m *serverMetrics) Batch(n, rows int, forward time.Duration) {
	m.batchSize.Observe(float64(n))
	m.padRows.Add(float64(rows - n))
	m.forward.Observe(forward.Seconds())
}

func (m *serverMetrics) Queue(depth int) { m.queueDepth.Set(float64(depth)) }

func (m *serverMetrics) Dropped(n int, reason error) {
	r := "client_gone"
	if errors.Is(reason, context.DeadlineExceeded) {
		r = "deadline"
	}
	m.dropped.WithLabelValues(r).Add(float64(n))
}
