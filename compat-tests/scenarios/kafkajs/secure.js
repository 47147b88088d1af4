// kafkajs agent for scenarios/secure.py (issue 11: TLS, mTLS, SASL).
//
// usage: node secure.js < spec.json
//   spec = {brokers, ssl: {ca, cert?, key?} (PEM file paths), sasl?: {mechanism, username, password},
//           op: "produce" | "txn" | "group" | "metadata", ...}
//   produce: records [{partition, key, value}] in one send() -> {ok: [{partition, offset}]} (acked base offsets
//            per partition, in send order)
//   txn:     txid, plan [{records, commit}] one transaction per entry -> {ok: null}
//   group:   topic, group, count: a group consumer from the beginning reads `count` records, commits
//            -> {ok: [{partition, offset, key, value}]}
//   metadata: admin connect + listTopics -> {ok: [topics]}
// Prints one JSON line {ok: ...} or {error: {name, type, code, message}}. Python asserts.
'use strict'

const { Kafka, logLevel } = require('kafkajs')
const fs = require('fs')

function errorJson(e) {
  if (!e) return null
  return { name: e.name, type: e.type, code: e.code, message: e.message,
           cause: e.cause ? errorJson(e.cause) : undefined,
           original: e.originalError ? errorJson(e.originalError) : undefined }
}

async function main() {
  const spec = JSON.parse(fs.readFileSync(0, 'utf8'))
  const ssl = { ca: [fs.readFileSync(spec.ssl.ca, 'utf8')] }
  if (spec.ssl.cert) {
    ssl.cert = fs.readFileSync(spec.ssl.cert, 'utf8')
    ssl.key = fs.readFileSync(spec.ssl.key, 'utf8')
  }
  const kafka = new Kafka({ clientId: 'compat-js-secure', brokers: spec.brokers, ssl, sasl: spec.sasl,
                            logLevel: logLevel.NOTHING, connectionTimeout: 5000, authenticationTimeout: 5000,
                            retry: { retries: spec.retries === undefined ? 5 : spec.retries } })
  if (spec.op === 'metadata') {
    const admin = kafka.admin()
    await admin.connect()
    const topics = await admin.listTopics()
    await admin.disconnect()
    return topics
  }
  if (spec.op === 'produce') {
    const producer = kafka.producer({ idempotent: false })
    await producer.connect()
    const acks = []
    for (const r of spec.records) {
      const res = await producer.send({ topic: spec.topic, acks: -1,
        messages: [{ partition: r.partition, key: r.key, value: r.value }] })
      acks.push({ partition: res[0].partition, offset: Number(res[0].baseOffset) })
    }
    await producer.disconnect()
    return acks
  }
  if (spec.op === 'txn') {
    const producer = kafka.producer({ transactionalId: spec.txid, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    for (const step of spec.plan) {
      const txn = await producer.transaction()
      for (const r of step.records) {
        await txn.send({ topic: spec.topic, messages: [{ partition: r.partition, key: r.key, value: r.value }] })
      }
      if (step.commit) await txn.commit(); else await txn.abort()
    }
    await producer.disconnect()
    return null
  }
  if (spec.op === 'group') {
    const consumer = kafka.consumer({ groupId: spec.group, maxWaitTimeInMs: 100, sessionTimeout: 10000 })
    await consumer.connect()
    await consumer.subscribe({ topic: spec.topic, fromBeginning: true })
    const got = []
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} of ${spec.count} records`)), 40000)
      consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          got.push({ partition, offset: Number(message.offset), key: message.key.toString(), value: message.value.toString() })
          if (got.length >= spec.count) { clearTimeout(timer); resolve() }
        },
      }).catch(reject)
    })
    const ends = {}
    for (const r of got) ends[r.partition] = Math.max(ends[r.partition] || 0, r.offset + 1)
    await consumer.commitOffsets(Object.entries(ends).map(([p, o]) => ({ topic: spec.topic, partition: Number(p), offset: String(o) })))
    await consumer.disconnect()
    return got
  }
  throw new Error(`unknown op ${spec.op}`)
}

main().then(
  ok => { console.log(JSON.stringify({ ok })); process.exit(0) },
  e => { console.log(JSON.stringify({ error: errorJson(e) })); process.exit(0) })
