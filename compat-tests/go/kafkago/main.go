// Debian 12's segmentio/kafka-go (0.2.1) against skua: old protocol versions on purpose. Its
// Writer sends Produce v2 (magic-1 message sets, compressed by the codec packages), its
// Reader Fetch v2 and ListOffsets v1, its groups JoinGroup v1 / SyncGroup v0 / OffsetCommit
// v2 / OffsetFetch v1, and Conn's admin calls CreateTopics v0 and DeleteTopics v1, Metadata
// v1. Every command prints what it saw, one fact a line, for the Python scenario to compare
// exactly; any error exits 1 with the error on stderr.
//
// usage: kafkago-compat BROKER write TOPIC N CODEC
//        kafkago-compat BROKER read TOPIC N
//        kafkago-compat BROKER group TOPIC GROUP N
//        kafkago-compat BROKER conn TOPIC
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/gzip"
	"github.com/segmentio/kafka-go/lz4"
	"github.com/segmentio/kafka-go/snappy"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		die("not a number: %s", s)
	}
	return n
}

func codec(name string) kafka.CompressionCodec {
	switch name {
	case "none":
		return nil
	case "gzip":
		return gzip.NewCompressionCodec()
	case "snappy":
		return snappy.NewCompressionCodec()
	case "lz4":
		return lz4.NewCompressionCodec()
	}
	die("unknown codec %s", name)
	return nil
}

func timeout(d time.Duration) context.Context {
	ctx, _ := context.WithTimeout(context.Background(), d) // the process exits soon after
	return ctx
}

// write: N messages k<i>/v<i> through a Writer (one batch), to a one-partition topic.
func write(broker, topic string, n int, c string) {
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: []string{broker}, Topic: topic,
		BatchSize: n, BatchTimeout: 50 * time.Millisecond, CompressionCodec: codec(c)})
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}
	}
	if err := w.WriteMessages(timeout(20*time.Second), msgs...); err != nil {
		die("write: %v", err)
	}
	if err := w.Close(); err != nil {
		die("close: %v", err)
	}
	fmt.Printf("written: %d\n", n)
}

// read: N messages of partition 0 through a Reader without a group; offset|key|value.
func read(broker, topic string, n int) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: 0,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx := timeout(20 * time.Second)
	for i := 0; i < n; i++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			die("read %d of %d: %v", i, n, err)
		}
		fmt.Printf("%d|%s|%s\n", m.Offset, m.Key, m.Value)
	}
}

// group: a Reader in GROUP reads N messages (committing each, synchronously) and leaves;
// partition|offset|key|value sorted.
func group(broker, topic, groupID string, n int) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, GroupID: groupID,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second})
	ctx := timeout(45 * time.Second)
	var seen []string
	for i := 0; i < n; i++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			die("read %d of %d: %v", i, n, err)
		}
		seen = append(seen, fmt.Sprintf("%d|%d|%s|%s", m.Partition, m.Offset, m.Key, m.Value))
	}
	if err := r.Close(); err != nil {
		die("close: %v", err)
	}
	sort.Strings(seen)
	for _, s := range seen {
		fmt.Println(s)
	}
}

// conn: Conn's admin calls: create TOPIC (3 partitions), read its partitions, write and read
// back through a leader Conn, first/last offsets, delete it.
func conn(broker, topic string) {
	c, err := kafka.Dial("tcp", broker)
	if err != nil {
		die("dial: %v", err)
	}
	defer c.Close()
	err = c.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 3, ReplicationFactor: 1})
	fmt.Printf("create: %v\n", err)
	err = c.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 3, ReplicationFactor: 1})
	fmt.Printf("create again: %v\n", err)
	parts, err := c.ReadPartitions(topic)
	if err != nil {
		die("read partitions: %v", err)
	}
	ids := []int{}
	for _, p := range parts {
		ids = append(ids, p.ID)
	}
	sort.Ints(ids)
	fmt.Printf("partitions: %v leader=%d\n", ids, parts[0].Leader.ID)
	l, err := kafka.DialLeader(context.Background(), "tcp", broker, topic, 2)
	if err != nil {
		die("dial leader: %v", err)
	}
	l.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := l.WriteMessages(kafka.Message{Value: []byte("one")}, kafka.Message{Value: []byte("two")},
		kafka.Message{Value: []byte("three")}); err != nil {
		die("write: %v", err)
	}
	first, last, err := l.ReadOffsets()
	if err != nil {
		die("offsets: %v", err)
	}
	fmt.Printf("offsets: first=%d last=%d\n", first, last)
	if _, err := l.Seek(1, kafka.SeekAbsolute); err != nil {
		die("seek: %v", err)
	}
	b := l.ReadBatch(1, 1<<20)
	for {
		m, err := b.ReadMessage()
		if err != nil {
			break
		}
		fmt.Printf("read: %d|%s\n", m.Offset, m.Value)
	}
	b.Close()
	l.Close()
	fmt.Printf("delete: %v\n", c.DeleteTopics(topic))
	parts, err = c.ReadPartitions(topic)
	fmt.Printf("after delete: %d partitions, %v\n", len(parts), err)
}

func main() {
	a := os.Args
	if len(a) < 3 {
		die("usage: kafkago-compat BROKER COMMAND ARGS...")
	}
	broker := a[1]
	switch {
	case a[2] == "write" && len(a) == 6:
		write(broker, a[3], atoi(a[4]), a[5])
	case a[2] == "read" && len(a) == 5:
		read(broker, a[3], atoi(a[4]))
	case a[2] == "group" && len(a) == 6:
		group(broker, a[3], a[4], atoi(a[5]))
	case a[2] == "conn" && len(a) == 4:
		conn(broker, a[3])
	default:
		die("bad arguments: %v", a[2:])
	}
}
