// A gorilla/websocket broadcast hub, the peer for wsgate's broadcast benchmark.
// It follows gorilla's chat example: one hub goroutine, a buffered send channel
// and a write pump per client; a client whose buffer is full is dropped.
// Every text message goes unchanged to every client, the sender included.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/gorilla/websocket"
)

type client struct {
	conn *websocket.Conn
	send chan *websocket.PreparedMessage
}

type hub struct {
	clients    map[*client]bool
	broadcast  chan []byte
	register   chan *client
	unregister chan *client
}

func (h *hub) run() {
	for {
		select {
		case c := <-h.register:
			h.clients[c] = true
		case c := <-h.unregister:
			if h.clients[c] {
				delete(h.clients, c)
				close(c.send)
			}
		case message := <-h.broadcast:
			// Encode once for everyone, as wsgate does.
			prepared, err := websocket.NewPreparedMessage(websocket.TextMessage, message)
			if err != nil {
				continue
			}
			for c := range h.clients {
				select {
				case c.send <- prepared:
				default:
					delete(h.clients, c)
					close(c.send)
				}
			}
		}
	}
}

var upgrader = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, CheckOrigin: func(*http.Request) bool { return true }}

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address")
	flag.Parse()
	h := &hub{clients: map[*client]bool{}, broadcast: make(chan []byte, 256), register: make(chan *client), unregister: make(chan *client)}
	go h.run()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &client{conn: conn, send: make(chan *websocket.PreparedMessage, 256)}
		h.register <- c
		go func() {
			defer conn.Close()
			for message := range c.send {
				if err := conn.WritePreparedMessage(message); err != nil {
					return
				}
			}
		}()
		go func() {
			defer func() { h.unregister <- c; conn.Close() }()
			conn.SetReadLimit(1 << 20)
			for {
				_, message, err := conn.ReadMessage()
				if err != nil {
					return
				}
				h.broadcast <- message
			}
		}()
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
