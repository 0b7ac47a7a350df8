// The benchmark's second load client (gorilla/websocket), so no server is judged only by
// wsgate's own `wsgate bench`. Modes:
//
//	echo: -connections connections, each with -window messages of -size bytes in flight
//	      (text, or binary with -binary; permessage-deflate offered with -compress), until
//	      -messages echoes in all or -duration, whichever comes first. Latency is the round
//	      trip of each message.
//	idle: opens -connections connections (-concurrency dials at a time), prints a line
//	      {"ready": N} on stdout, then holds them until stdin closes or -duration passes.
//	      With -first, each connection first sends one message of -size bytes of chat-like
//	      text (compressed when -compress was negotiated) and reads its echo: the memory a
//	      connection keeps after using its extensions once.
//
// Prints one JSON line (echo) or two (idle: ready, then the summary).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	url := flag.String("url", "ws://127.0.0.1:9400/", "server URL")
	mode := flag.String("mode", "echo", "echo or idle")
	connections := flag.Int("connections", 16, "connections")
	window := flag.Int("window", 8, "messages in flight per connection (echo)")
	size := flag.Int("size", 64, "payload bytes (echo)")
	binary := flag.Bool("binary", false, "send binary messages instead of text (echo)")
	compress := flag.Bool("compress", false, "offer permessage-deflate (no context takeover)")
	messages := flag.Int("messages", 200000, "stop after this many echoes in all (echo)")
	duration := flag.Duration("duration", 10*time.Second, "stop after this long")
	concurrency := flag.Int("concurrency", 64, "dials at a time (idle)")
	first := flag.Bool("first", false, "idle: send one message and read its echo on each connection first")
	flag.Parse()
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, EnableCompression: *compress}
	switch *mode {
	case "echo":
		echo(dialer, *url, *connections, *window, *size, *binary, *messages, *duration)
	case "idle":
		idle(dialer, *url, *connections, *concurrency, *duration, *first, *size)
	default:
		fail("unknown mode %s", *mode)
	}
}

func echo(dialer websocket.Dialer, url string, connections, window, size int, binary bool, total int, duration time.Duration) {
	conns := make([]*websocket.Conn, connections)
	for i := range conns {
		conn, _, err := dialer.Dial(url, nil)
		if err != nil {
			fail("dial %d: %v", i, err)
		}
		conn.SetReadLimit(1 << 24)
		conns[i] = conn
	}
	kind := websocket.TextMessage
	if binary {
		kind = websocket.BinaryMessage
	}
	payload := chatText(size)
	var sent, received int64
	start := time.Now()
	deadline := start.Add(duration)
	latencies := make([][]time.Duration, connections)
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func(i int, conn *websocket.Conn) {
			defer wg.Done()
			times := make(chan time.Time, window)
			credits := make(chan struct{}, window)
			for k := 0; k < window; k++ {
				credits <- struct{}{}
			}
			go func() {
				defer close(times)
				for range credits {
					if time.Now().After(deadline) || atomic.AddInt64(&sent, 1) > int64(total) {
						return
					}
					times <- time.Now()
					if err := conn.WriteMessage(kind, payload); err != nil {
						fail("write: %v", err)
					}
				}
			}()
			own := make([]time.Duration, 0, 1024)
			for at := range times {
				conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				got, data, err := conn.ReadMessage()
				if err != nil {
					fail("read: %v", err)
				}
				if got != kind || len(data) != size {
					fail("echo of %d bytes came back as %d bytes (type %d)", size, len(data), got)
				}
				own = append(own, time.Since(at))
				atomic.AddInt64(&received, 1)
				credits <- struct{}{}
			}
			latencies[i] = own
		}(i, conn)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var all []time.Duration
	for _, own := range latencies {
		all = append(all, own...)
	}
	for _, conn := range conns {
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
		conn.Close()
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"mode": "echo", "connections": connections, "messages": received, "seconds": elapsed,
		"messages_per_second": float64(received) / elapsed,
		"p50_ms":              pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "p999_ms": pct(0.999), "max_ms": pct(1.0),
	})
}

// Text that compresses like chat text rather than like a run of one byte.
func chatText(size int) []byte {
	pattern := []byte("The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ")
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = pattern[i%len(pattern)]
	}
	return payload
}

func idle(dialer websocket.Dialer, url string, connections, concurrency int, duration time.Duration, first bool, size int) {
	payload := chatText(size)
	start := time.Now()
	conns := make([]*websocket.Conn, connections)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				conn, _, err := dialer.Dial(url, nil)
				if err != nil {
					fail("dial %d: %v", i, err)
				}
				if first {
					conn.EnableWriteCompression(true)
					if err := conn.WriteMessage(websocket.TextMessage, payload); err != nil {
						fail("first message %d: %v", i, err)
					}
					if _, _, err := conn.ReadMessage(); err != nil {
						fail("first echo %d: %v", i, err)
					}
				}
				conns[i] = conn
			}
		}()
	}
	for i := 0; i < connections; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	connected := time.Since(start).Seconds()
	// Answer pings, notice closes: one reader per connection, as a real client has.
	var closed int64
	for _, conn := range conns {
		go func(conn *websocket.Conn) {
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					atomic.AddInt64(&closed, 1)
					return
				}
			}
		}(conn)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"ready": connections, "connect_seconds": connected})
	stdin := make(chan struct{})
	go func() {
		io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		close(stdin)
	}()
	select {
	case <-stdin:
	case <-time.After(duration):
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"mode": "idle", "connections": connections, "connect_seconds": connected,
		"closed_by_server": atomic.LoadInt64(&closed),
	})
	for _, conn := range conns {
		conn.Close()
	}
}
