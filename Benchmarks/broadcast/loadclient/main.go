// The broadcast benchmark's load client: N subscribers on one URL, one of them
// publishing; each message carries its send time, each subscriber records the
// latency of every message it gets. The publisher keeps at most -window messages
// in flight (it waits for its own copy of message k-window before sending k).
// Prints one JSON line: deliveries, seconds, deliveries per second, latency percentiles.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:9100/", "server URL")
	members := flag.Int("members", 1000, "subscribers, the publisher included")
	messages := flag.Int("messages", 2000, "messages to publish")
	size := flag.Int("size", 64, "payload bytes")
	window := flag.Int("window", 32, "messages in flight")
	skip := flag.Int("skip", 0, "messages each subscriber ignores first (a welcome)")
	timeout := flag.Duration("timeout", 120*time.Second, "give up after")
	flag.Parse()

	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conns := make([]*websocket.Conn, *members)
	for i := range conns {
		conn, _, err := dialer.Dial(*url, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dial %d: %v\n", i, err)
			os.Exit(1)
		}
		conns[i] = conn
	}
	for _, conn := range conns {
		for j := 0; j < *skip; j++ {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := conn.ReadMessage(); err != nil {
				fmt.Fprintf(os.Stderr, "welcome: %v\n", err)
				os.Exit(1)
			}
		}
	}
	time.Sleep(200 * time.Millisecond)

	deadline := time.Now().Add(*timeout)
	latencies := make([][]time.Duration, *members)
	acked := make(chan int, *messages)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func(i int, conn *websocket.Conn) {
			defer wg.Done()
			own := make([]time.Duration, 0, *messages)
			conn.SetReadDeadline(deadline)
			for n := 0; n < *messages; n++ {
				_, data, err := conn.ReadMessage()
				if err != nil {
					fmt.Fprintf(os.Stderr, "member %d after %d: %v\n", i, n, err)
					os.Exit(1)
				}
				// The payload may come after a prefix such as "[user0]: ".
				if k := strings.IndexByte(string(data[:min(len(data), 32)]), '|'); k >= 0 {
					data = data[k+1:]
				}
				sent, err := strconv.ParseInt(string(data[:16]), 16, 64)
				if err != nil {
					fmt.Fprintf(os.Stderr, "member %d: bad payload %q\n", i, data[:min(len(data), 40)])
					os.Exit(1)
				}
				own = append(own, time.Since(start)-time.Duration(sent))
				if i == 0 {
					acked <- n
				}
			}
			latencies[i] = own
		}(i, conns[i])
	}
	padding := strings.Repeat("x", max(0, *size-17))
	var message []byte
	for n := 0; n < *messages; n++ {
		if n >= *window {
			<-acked
		}
		// '|', the send time in 16 hex digits, then padding up to -size bytes.
		message = []byte(fmt.Sprintf("|%016x%s", int64(time.Since(start)), padding))
		if err := conns[0].WriteMessage(websocket.TextMessage, message); err != nil {
			fmt.Fprintf(os.Stderr, "publish: %v\n", err)
			os.Exit(1)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, own := range latencies {
		all = append(all, own...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	out := map[string]any{
		"members": *members, "messages": *messages, "deliveries": len(all), "seconds": elapsed.Seconds(),
		"deliveries_per_second": float64(len(all)) / elapsed.Seconds(),
		"p50_ms":                pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "p999_ms": pct(0.999), "max_ms": pct(1.0),
	}
	json.NewEncoder(os.Stdout).Encode(out)
	for _, conn := range conns {
		conn.Close()
	}
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
