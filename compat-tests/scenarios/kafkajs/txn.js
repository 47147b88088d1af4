// kafkajs idempotence / transaction agent for scenarios/txn_kafkajs.py.
//
// usage: node txn.js '<config json>'   with config.mode one of:
//   idempotent  {bootstrap, topic, n, chunk, delay_ms}: an idempotent producer (maxInFlightRequests 1,
//               acks -1) sends records seq = 0..n-1 (key "key-<seq % 50>", value the zero-padded seq)
//               in sequential send() calls of `chunk` records; after each: acked {from, count, results:
//               [[partition, baseOffset, errorCode], ...]}; at the end: done.
//   txns        {bootstrap, topic, txid, plan: [{tag, commit, records: [{partition, key, value}]}]}:
//               one transaction per plan entry (send, then commit or abort); after each: txn {tag,
//               results}; at the end: done.
//   consume     {bootstrap, topic, group, read_uncommitted, expect, linger_ms}: a group consumer from
//               the beginning; when `expect` records arrived (and linger_ms passed): msgs {recs:
//               [[partition, offset, value], ...]}, then done.
//   ctp         {bootstrap, input, output, group, txid, batch, hang_at, end: {partition: offset},
//               session_ms}: consume-transform-produce. A group consumer (read_committed, autoCommit
//               off) on `input`; every `batch` records of an eachBatch become one transaction producing
//               "T:"+value (key kept) to the same partition of `output`, with sendOffsets for the
//               group; events txn {n, recs: [[partition, offset]], offsets}. Transaction number
//               `hang_at` is left open after its sendOffsets (in_txn event) until the process is killed.
//               When the committed positions reach `end`: done.
// Keys / values travel as utf8 strings. Errors: error {error}; exit code 1.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

function emit(ev) {
  ev.t = Date.now() / 1000
  process.stdout.write(JSON.stringify(ev) + '\n')
}

const errText = e => (e ? `${e.name}${e.type ? ` type=${e.type}` : ''}: ${e.message}` +
  (e.originalError ? ` (original: ${errText(e.originalError)})` : '') + (e.cause ? ` (cause: ${errText(e.cause)})` : '') : 'none')

function client(cfg, name) {
  return new Kafka({
    clientId: name,
    brokers: [cfg.bootstrap],
    logLevel: logLevel.INFO,
    logCreator: () => ({ namespace, label, log }) => {
      const { message, ...extra } = log
      process.stderr.write(`${new Date().toISOString()} ${label} ${namespace}: ${message} ${JSON.stringify(extra)}\n`)
    },
    connectionTimeout: 3000,
    requestTimeout: 15000,
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 30 },
  })
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function idempotent(cfg) {
  const producer = client(cfg, 'compat-js-idem').producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  await producer.connect()
  emit({ ev: 'ready' })
  for (let from = 0; from < cfg.n; from += cfg.chunk) {
    const messages = []
    for (let seq = from; seq < Math.min(cfg.n, from + cfg.chunk); seq++) {
      messages.push({ key: `key-${String(seq % 50).padStart(2, '0')}`, value: String(seq).padStart(6, '0') })
    }
    const res = await producer.send({ topic: cfg.topic, acks: -1, timeout: 10000, messages })
    emit({ ev: 'acked', from, count: messages.length, results: res.map(r => [r.partition, Number(r.baseOffset), r.errorCode]) })
    if (cfg.delay_ms) await sleep(cfg.delay_ms)
  }
  await producer.disconnect()
  emit({ ev: 'done' })
}

async function txns(cfg) {
  const producer = client(cfg, 'compat-js-txn').producer({ transactionalId: cfg.txid, idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  for (const step of cfg.plan) {
    const txn = await producer.transaction()
    const res = await txn.send({ topic: cfg.topic, acks: -1, messages: step.records })
    if (step.commit) await txn.commit()
    else await txn.abort()
    emit({ ev: 'txn', tag: step.tag, results: res.map(r => [r.partition, Number(r.baseOffset), r.errorCode]) })
  }
  await producer.disconnect()
  emit({ ev: 'done' })
}

async function consume(cfg) {
  const consumer = client(cfg, 'compat-js-read').consumer({ groupId: cfg.group, readUncommitted: !!cfg.read_uncommitted,
    maxWaitTimeInMs: 100, sessionTimeout: 10000, heartbeatInterval: 500 })
  await consumer.connect()
  await consumer.subscribe({ topic: cfg.topic, fromBeginning: true })
  const recs = []
  let reached = null
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      recs.push([partition, Number(message.offset), message.value === null ? null : message.value.toString('utf8')])
    },
  })
  const deadline = Date.now() + 40000
  while (Date.now() < deadline) {
    if (reached === null && recs.length >= cfg.expect) reached = Date.now()
    if (reached !== null && Date.now() - reached >= (cfg.linger_ms || 1000)) break
    await sleep(50)
  }
  emit({ ev: 'msgs', recs })
  await consumer.disconnect()
  emit({ ev: 'done' })
}

async function ctp(cfg) {
  const kafka = client(cfg, 'compat-js-ctp')
  const producer = kafka.producer({ transactionalId: cfg.txid, idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const admin = kafka.admin()
  await admin.connect()
  const pos = {}
  for (const t of await admin.fetchOffsets({ groupId: cfg.group, topics: [cfg.input] })) {
    for (const p of t.partitions) pos[p.partition] = Math.max(0, Number(p.offset))
  }
  await admin.disconnect()
  emit({ ev: 'ready', committed: pos })
  const end = cfg.end
  const finished = () => Object.keys(end).every(p => (pos[p] || 0) >= end[p])
  const consumer = kafka.consumer({ groupId: cfg.group, readUncommitted: false, maxWaitTimeInMs: 100,
    sessionTimeout: cfg.session_ms || 6000, heartbeatInterval: 500, rebalanceTimeout: 20000 })
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => emit({ ev: 'assign', parts: payload.memberAssignment }))
  await consumer.connect()
  await consumer.subscribe({ topic: cfg.input, fromBeginning: true })
  let n = 0
  let doneResolve
  const done = new Promise(resolve => { doneResolve = resolve })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      for (let i = 0; i < batch.messages.length; i += cfg.batch) {
        if (!isRunning() || isStale()) return
        const chunk = batch.messages.slice(i, i + cfg.batch)
        n += 1
        const txn = await producer.transaction()
        await txn.send({
          topic: cfg.output,
          acks: -1,
          messages: chunk.map(m => ({ key: m.key, value: Buffer.concat([Buffer.from('T:'), m.value]), partition: batch.partition })),
        })
        const last = chunk[chunk.length - 1].offset
        const next = Number(last) + 1
        await txn.sendOffsets({ consumerGroupId: cfg.group,
          topics: [{ topic: cfg.input, partitions: [{ partition: batch.partition, offset: String(next) }] }] })
        const recs = chunk.map(m => [batch.partition, Number(m.offset)])
        if (n === cfg.hang_at) {
          emit({ ev: 'in_txn', n, recs, offsets: { [batch.partition]: next } })
          await new Promise(() => {}) // left open until kill -9
        }
        await txn.commit()
        resolveOffset(last)
        pos[batch.partition] = next
        emit({ ev: 'txn', n, recs, offsets: { [batch.partition]: next } })
        await heartbeat()
      }
      if (finished()) doneResolve()
    },
  })
  if (!finished()) await done
  emit({ ev: 'done', positions: pos })
  await consumer.disconnect()
  await producer.disconnect()
}

async function main() {
  const cfg = JSON.parse(process.argv[2])
  const modes = { idempotent, txns, consume, ctp }
  if (!modes[cfg.mode]) throw new Error(`unknown mode ${cfg.mode}`)
  await modes[cfg.mode](cfg)
}

main().then(
  () => process.exit(0),
  e => {
    process.stderr.write(`${e && e.stack}\n`)
    emit({ ev: 'error', error: errText(e) })
    process.exit(1)
  }
)
