// A gorilla/websocket echo server, a peer for wsgate's echo and idle-memory benchmarks.
// Every message goes back as it came (text as text, binary as binary). With -compress it
// negotiates permessage-deflate (gorilla supports only no context takeover) and compresses
// at -level, as wsgate and the Hummingbird server do in the benchmark. It logs nothing
// per connection.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/gorilla/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9400", "listen address")
	compress := flag.Bool("compress", false, "negotiate permessage-deflate")
	level := flag.Int("level", 6, "deflate level when compressing")
	flag.Parse()
	upgrader := websocket.Upgrader{
		ReadBufferSize:    4096,
		WriteBufferSize:   4096,
		EnableCompression: *compress,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetReadLimit(1 << 24)
		if *compress {
			conn.SetCompressionLevel(*level)
		}
		for {
			kind, message, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(kind, message); err != nil {
				return
			}
		}
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
