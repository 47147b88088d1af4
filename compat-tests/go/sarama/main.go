// Debian 12's sarama (1.22) against skua: old protocol versions on purpose. With sarama's
// default Version (0.8.2.0) the producer sends Produce v0 with magic-0 message sets, the
// consumer Fetch v0 and ListOffsets v0; consumer groups need 0.10.2.0 (JoinGroup v1,
// OffsetCommit v2, OffsetFetch v1); ClusterAdmin at 0.10.2.0 uses CreateTopics v0,
// DeleteTopics v0 and DescribeConfigs v0. Every command prints what it saw, one fact a line,
// for the Python scenario to compare exactly; any error exits 1 with the error on stderr.
//
// usage: sarama-compat BROKER produce TOPIC N CODEC VERSION
//        sarama-compat BROKER consume TOPIC N VERSION
//        sarama-compat BROKER group TOPIC GROUP N
//        sarama-compat BROKER offsets GROUP TOPIC PARTITIONS
//        sarama-compat BROKER admin TOPIC
//
// Over SASL_SSL (PLAIN): SARAMA_SASL_USER and SARAMA_SASL_PASSWORD turn SASL on, SARAMA_TLS_CA
// (a PEM file) TLS. With a Version before 1.0.0.0 sarama sends SaslHandshake v0 and then the
// PLAIN token raw (no Kafka framing); from 1.0.0.0 on, SaslHandshake v1 and SaslAuthenticate v0.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io/ioutil"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// newConfig: sarama's defaults plus the SASL/TLS settings of the environment.
func newConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	if user := os.Getenv("SARAMA_SASL_USER"); user != "" {
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Handshake = true
		cfg.Net.SASL.User = user
		cfg.Net.SASL.Password = os.Getenv("SARAMA_SASL_PASSWORD")
	}
	if ca := os.Getenv("SARAMA_TLS_CA"); ca != "" {
		pem, err := ioutil.ReadFile(ca)
		if err != nil {
			die("read %s: %v", ca, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			die("no certificate in %s", ca)
		}
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = &tls.Config{RootCAs: pool}
	}
	return cfg
}

func version(s string) sarama.KafkaVersion {
	v, err := sarama.ParseKafkaVersion(s)
	if err != nil {
		die("version %s: %v", s, err)
	}
	return v
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		die("not a number: %s", s)
	}
	return n
}

func codec(name string) sarama.CompressionCodec {
	switch name {
	case "none":
		return sarama.CompressionNone
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	}
	die("unknown codec %s", name)
	return sarama.CompressionNone
}

// produce: N messages k<i>/v<i> to partition 0 in one SendMessages; prints each offset.
func produce(broker, topic string, n int, c, v string) {
	cfg := newConfig()
	cfg.Version = version(v)
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Compression = codec(c)
	cfg.Producer.Flush.Messages = n
	p, err := sarama.NewSyncProducer([]string{broker}, cfg)
	if err != nil {
		die("producer: %v", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Partition: 0,
			Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))}
	}
	if err := p.SendMessages(msgs); err != nil {
		die("send: %v", err)
	}
	for _, m := range msgs {
		fmt.Printf("%d|%d\n", m.Partition, m.Offset)
	}
}

// consume: N messages of partition 0 from the oldest; prints offset|key|value.
func consume(broker, topic string, n int, v string) {
	cfg := newConfig()
	cfg.Version = version(v)
	c, err := sarama.NewConsumer([]string{broker}, cfg)
	if err != nil {
		die("consumer: %v", err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		die("consume partition: %v", err)
	}
	defer pc.Close()
	for i := 0; i < n; i++ {
		select {
		case m := <-pc.Messages():
			fmt.Printf("%d|%s|%s\n", m.Offset, m.Key, m.Value)
		case e := <-pc.Errors():
			die("consume: %v", e)
		case <-time.After(20 * time.Second):
			die("timed out after %d of %d messages", i, n)
		}
	}
}

type handler struct {
	mu   sync.Mutex
	seen []string
	want int
	done chan struct{}
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.mu.Lock()
		h.seen = append(h.seen, fmt.Sprintf("%d|%d|%s|%s", m.Partition, m.Offset, m.Key, m.Value))
		s.MarkMessage(m, "")
		if len(h.seen) == h.want {
			close(h.done)
		}
		h.mu.Unlock()
	}
	return nil
}

// group: a consumer group member (default settings, but the oldest offset for a new group)
// reads N messages, then closes (committing); prints partition|offset|key|value sorted.
func group(broker, topic, groupID string, n int) {
	cfg := newConfig()
	cfg.Version = sarama.V0_10_2_0 // the minimum sarama's ConsumerGroup accepts
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	g, err := sarama.NewConsumerGroup([]string{broker}, groupID, cfg)
	if err != nil {
		die("group: %v", err)
	}
	h := &handler{want: n, done: make(chan struct{})}
	errs := make(chan error, 1)
	go func() {
		for {
			if err := g.Consume(context.Background(), []string{topic}, h); err != nil {
				errs <- err
				return
			}
			select {
			case <-h.done:
				return
			default:
			}
		}
	}()
	select {
	case <-h.done:
	case err := <-errs:
		die("consume: %v", err)
	case <-time.After(45 * time.Second):
		die("timed out after %d of %d messages", len(h.seen), n)
	}
	if err := g.Close(); err != nil {
		die("close: %v", err)
	}
	h.mu.Lock()
	sort.Strings(h.seen)
	for _, s := range h.seen {
		fmt.Println(s)
	}
	h.mu.Unlock()
}

// offsets: the group's committed offsets of partitions 0..P-1 (OffsetFetch through the admin).
func offsets(broker, groupID, topic string, parts int) {
	cfg := newConfig()
	cfg.Version = sarama.V0_10_2_0
	a, err := sarama.NewClusterAdmin([]string{broker}, cfg)
	if err != nil {
		die("admin: %v", err)
	}
	defer a.Close()
	ps := make([]int32, parts)
	for i := range ps {
		ps[i] = int32(i)
	}
	r, err := a.ListConsumerGroupOffsets(groupID, map[string][]int32{topic: ps})
	if err != nil {
		die("list offsets: %v", err)
	}
	for _, p := range ps {
		b := r.GetBlock(topic, p)
		if b == nil {
			die("no block for partition %d", p)
		}
		fmt.Printf("%d|%d|%d\n", p, b.Offset, b.Err)
	}
}

// admin: ClusterAdmin at 0.10.2.0 (CreateTopics v0, DeleteTopics v0) and at 0.11.0.0 (the
// first sarama sends DescribeConfigs with: v0; CreateTopics v1): create TOPIC (3 partitions,
// retention.ms=3600000), create it again, list, describe its configs, describe it, validate a
// second creation, delete it, list again.
func admin(broker, topic string) {
	open := func(v sarama.KafkaVersion) sarama.ClusterAdmin {
		cfg := newConfig()
		cfg.Version = v
		a, err := sarama.NewClusterAdmin([]string{broker}, cfg)
		if err != nil {
			die("admin: %v", err)
		}
		return a
	}
	a10, a11 := open(sarama.V0_10_2_0), open(sarama.V0_11_0_0)
	defer a10.Close()
	defer a11.Close()
	ret := "3600000"
	err := a10.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"retention.ms": &ret}}, false)
	fmt.Printf("create: %v\n", err)
	err = a10.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	fmt.Printf("create again: %v\n", err)
	err = a11.CreateTopic(topic+"-v", &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, true)
	fmt.Printf("validate only: %v\n", err)
	list := func() map[string]sarama.TopicDetail {
		topics, err := a11.ListTopics()
		if err != nil {
			die("list: %v", err)
		}
		return topics
	}
	topics := list()
	d, ok := topics[topic]
	_, validated := topics[topic+"-v"]
	fmt.Printf("listed: %v partitions=%d rf=%d retention.ms=%s validated-listed=%v\n", ok, d.NumPartitions,
		d.ReplicationFactor, deref(d.ConfigEntries["retention.ms"]), validated)
	entries, err := a11.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic,
		ConfigNames: []string{"retention.ms", "cleanup.policy"}})
	if err != nil {
		die("describe config: %v", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	for _, e := range entries {
		fmt.Printf("config: %s=%s default=%v\n", e.Name, e.Value, e.Default)
	}
	md, err := a11.DescribeTopics([]string{topic})
	if err != nil {
		die("describe topics: %v", err)
	}
	for _, t := range md {
		ids := []int{}
		for _, p := range t.Partitions {
			ids = append(ids, int(p.ID))
		}
		sort.Ints(ids)
		fmt.Printf("described: %s err=%d partitions=%v\n", t.Name, t.Err, ids)
	}
	fmt.Printf("delete: %v\n", a10.DeleteTopic(topic))
	_, ok = list()[topic]
	fmt.Printf("listed after delete: %v\n", ok)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func main() {
	a := os.Args
	if len(a) < 3 {
		die("usage: sarama-compat BROKER COMMAND ARGS...")
	}
	broker := a[1]
	switch {
	case a[2] == "produce" && len(a) == 7:
		produce(broker, a[3], atoi(a[4]), a[5], a[6])
	case a[2] == "consume" && len(a) == 6:
		consume(broker, a[3], atoi(a[4]), a[5])
	case a[2] == "group" && len(a) == 6:
		group(broker, a[3], a[4], atoi(a[5]))
	case a[2] == "offsets" && len(a) == 6:
		offsets(broker, a[3], a[4], atoi(a[5]))
	case a[2] == "admin" && len(a) == 4:
		admin(broker, a[3])
	default:
		die("bad arguments: %v", a[2:])
	}
}
