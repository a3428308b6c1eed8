package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/chorusdb/chorus/client"
)

// The client learns the cluster from one node and then sends each request to a
// replica of its key.
func ExampleNew() {
	ctx := context.Background()
	c, err := client.New(ctx, client.Options{
		Seeds:      []string{"127.0.0.1:7380", "127.0.0.1:7381"},
		Keyspace:   "users",
		ReadLevel:  "ONE",
		WriteLevel: "QUORUM",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "alice", []byte(`{"age": 42}`), 0); err != nil {
		log.Fatal(err)
	}
	v, err := c.Get(ctx, "alice")
	switch {
	case errors.Is(err, client.ErrNotFound):
		fmt.Println("no value")
	case errors.Is(err, client.ErrUnavailable):
		fmt.Println("too few replicas alive for the read level")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Printf("%s (coordinated by %s, replicas %v)\n", v, c.Coordinator("alice"), c.Replicas("alice"))
	}
}

// A Pipeline sends many requests with one round trip per node.
func ExamplePipeline() {
	ctx := context.Background()
	c, err := client.New(ctx, client.Options{Seeds: []string{"127.0.0.1:7380"}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	p := c.Pipeline()
	set := p.Set("session:1", []byte("token"), time.Hour)
	get := p.Get("session:2")
	if err := p.Exec(ctx); err != nil {
		log.Fatal(err)
	}
	if set.Err() == nil {
		fmt.Println("stored session:1")
	}
	if _, err := get.Result(); errors.Is(err, client.ErrNotFound) {
		fmt.Println("no session:2")
	}
}
