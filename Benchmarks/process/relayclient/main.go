// The process-relay benchmark's client. Two modes:
//
//	sessions: -count sessions, -concurrency at a time; each connects, sends one line,
//	          waits for the echo through `cat`, and closes. Prints sessions per second
//	          and the percentiles of a session's duration (dial to echo received).
//	messages: one session; -count messages with -window in flight through one `cat`.
//	          Prints messages per second and the percentiles of a message's round trip.
//
// Prints one JSON line.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	url := flag.String("url", "ws://127.0.0.1:9200/", "server URL")
	mode := flag.String("mode", "sessions", "sessions or messages")
	count := flag.Int("count", 500, "sessions or messages")
	concurrency := flag.Int("concurrency", 8, "sessions at a time (sessions mode)")
	window := flag.Int("window", 64, "messages in flight (messages mode)")
	flag.Parse()
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	// Latency samples: each worker appends to its own slice; merged after the run.
	samples := make([][]time.Duration, *concurrency+1)
	start := time.Now()
	switch *mode {
	case "sessions":
		jobs := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < *concurrency; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := range jobs {
					began := time.Now()
					conn, _, err := dialer.Dial(*url, nil)
					if err != nil {
						fail("dial: %v", err)
					}
					line := fmt.Sprintf("session %d", i)
					if err := conn.WriteMessage(websocket.TextMessage, []byte(line)); err != nil {
						fail("write: %v", err)
					}
					conn.SetReadDeadline(time.Now().Add(10 * time.Second))
					_, data, err := conn.ReadMessage()
					if err != nil || string(data) != line {
						fail("read %q: %v", data, err)
					}
					samples[w] = append(samples[w], time.Since(began))
					conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
					conn.Close()
				}
			}(w)
		}
		for i := 0; i < *count; i++ {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
	case "messages":
		conn, _, err := dialer.Dial(*url, nil)
		if err != nil {
			fail("dial: %v", err)
		}
		done := make(chan struct{})
		acked := make(chan struct{}, *count)
		// When each message was sent; `cat` answers in order, so the i-th reply is the i-th message's.
		sent := make(chan time.Time, *count)
		go func() {
			for i := 0; i < *count; i++ {
				conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				if _, _, err := conn.ReadMessage(); err != nil {
					fail("read %d: %v", i, err)
				}
				samples[0] = append(samples[0], time.Since(<-sent))
				acked <- struct{}{}
			}
			close(done)
		}()
		for i := 0; i < *count; i++ {
			if i >= *window {
				<-acked
			}
			sent <- time.Now()
			if err := conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("message %08d", i))); err != nil {
				fail("write: %v", err)
			}
		}
		<-done
		conn.Close()
	default:
		fail("unknown mode %s", *mode)
	}
	elapsed := time.Since(start).Seconds()
	var all []time.Duration
	for _, own := range samples {
		all = append(all, own...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"mode": *mode, "count": *count, "seconds": elapsed, "per_second": float64(*count) / elapsed,
		"p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "p999_ms": pct(0.999), "max_ms": pct(1.0),
	})
}
