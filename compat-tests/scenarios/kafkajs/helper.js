// kafkajs helper for scenarios/kafkajs.py.
//
// usage: node helper.js < spec.json   where spec = {brokers: ["host:port"], ops: [{op: ..., ...}, ...]}
// Runs the ops in order with one kafkajs client and prints one JSON line: a list with, per op,
// {ok: result} or {error: {name, type, code, message, errors}}. Binary keys/values/header values
// travel as base64 strings (null stays null). The Python side makes every assertion.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, AssignerProtocol, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const lz4js = require('lz4js')
const fs = require('fs')
const { ZstdCodec } = require('zstd-codec')

// kafkajs ships gzip only; register the others (pure JS: no native build needed).
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  compress: async encoder => Buffer.from(lz4js.compress(new Uint8Array(encoder.buffer))),
  decompress: async buffer => Buffer.from(lz4js.decompress(new Uint8Array(buffer))),
})
let zstdSimple = null
const zstdReady = new Promise(resolve => ZstdCodec.run(z => { zstdSimple = new z.Simple(); resolve() }))
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async encoder => { await zstdReady; return Buffer.from(zstdSimple.compress(new Uint8Array(encoder.buffer), 3)) },
  decompress: async buffer => { await zstdReady; return Buffer.from(zstdSimple.decompress(new Uint8Array(buffer))) },
})

const COMPRESSION = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
}

const b64 = v => (v === null || v === undefined ? null : Buffer.from(v, 'base64'))

function errorJson(e) {
  if (!e) return null
  return {
    name: e.name,
    type: e.type,
    code: e.code,
    message: String(e.message),
    retriable: e.retriable,
    errors: Array.isArray(e.errors) ? e.errors.map(errorJson) : undefined,
    cause: e.cause ? errorJson(e.cause) : undefined,
    originalError: e.originalError ? errorJson(e.originalError) : undefined,
  }
}

function toMessage(r) {
  const m = { key: b64(r.key), value: b64(r.value) }
  if (r.partition !== undefined && r.partition !== null) m.partition = r.partition
  if (r.timestamp) m.timestamp = String(r.timestamp)
  if (r.headers) {
    // [[k, v], ...] -> {k: v | [v1, v2]} (kafkajs's way to write duplicate keys, in order)
    const h = {}
    for (const [k, v] of r.headers) {
      const val = b64(v)
      if (k in h) h[k] = [].concat(h[k], [val])
      else h[k] = val
    }
    m.headers = h
  }
  return m
}

async function run(kafka, admin, producers, op) {
  switch (op.op) {
    case 'produce': {
      // op: {topic, records, acks, compression, chunk, producer: {...config}}
      const key = JSON.stringify(op.producer || {})
      if (!producers[key]) {
        const p = kafka.producer({ allowAutoTopicCreation: true, idempotent: false, ...(op.producer || {}) })
        await p.connect()
        producers[key] = p
      }
      const p = producers[key]
      const chunk = op.chunk || op.records.length
      const out = []
      for (let i = 0; i < op.records.length; i += chunk) {
        // op.gate: {after, file}: once `after` records are sent, wait for `file` to exist (the
        // scenario creates it when it is ready to inject a fault mid-stream); op.pauseMs: a pause
        // between sends, so that the rest of the stream outlasts the fault.
        if (op.gate && i >= op.gate.after) {
          while (!fs.existsSync(op.gate.file)) await new Promise((r) => setTimeout(r, 20))
        }
        if (op.pauseMs && i > 0) await new Promise((r) => setTimeout(r, op.pauseMs))
        const res = await p.send({
          topic: op.topic,
          acks: op.acks === undefined ? -1 : op.acks,
          timeout: 10000,
          compression: COMPRESSION[op.compression || 'none'],
          messages: op.records.slice(i, i + chunk).map(toMessage),
        })
        out.push(res)
      }
      return out
    }
    case 'createTopics':
      return await admin.createTopics({ topics: op.topics, timeout: 10000, waitForLeaders: op.waitForLeaders !== false })
    case 'deleteTopics':
      await admin.deleteTopics({ topics: op.topics, timeout: 10000 })
      return true
    case 'listTopics':
      return await admin.listTopics()
    case 'describeConfigs':
      return await admin.describeConfigs({ resources: op.resources, includeSynonyms: !!op.includeSynonyms })
    case 'alterConfigs':
      return await admin.alterConfigs({ resources: op.resources, validateOnly: !!op.validateOnly })
    case 'fetchTopicMetadata':
      return await admin.fetchTopicMetadata({ topics: op.topics })
    case 'fetchTopicOffsets':
      return await admin.fetchTopicOffsets(op.topic)
    case 'fetchTopicOffsetsByTimestamp':
      return await admin.fetchTopicOffsetsByTimestamp(op.topic, op.timestamp)
    case 'describeCluster':
      return await admin.describeCluster()
    case 'createPartitions':
      await admin.createPartitions({ topicPartitions: op.topicPartitions, validateOnly: !!op.validateOnly })
      return true
    case 'alterPartitionReassignments':
      await admin.alterPartitionReassignments({ topics: op.topics, timeout: 15000 })
      return true
    case 'listPartitionReassignments':
      return await admin.listPartitionReassignments({ topics: op.topics || null, timeout: 15000 })
    case 'deleteTopicRecords':
      await admin.deleteTopicRecords({ topic: op.topic, partitions: op.partitions })
      return true
    // ---- consumer groups
    case 'fetchOffsets':
      return await admin.fetchOffsets({ groupId: op.groupId, topics: op.topics })
    case 'listGroups':
      return await admin.listGroups()
    case 'describeGroups': {
      // member metadata / assignment are ConsumerProtocol bytes: decode them with kafkajs's own codec
      const res = await admin.describeGroups(op.groupIds)
      return res.groups.map(g => ({
        groupId: g.groupId, errorCode: g.errorCode, state: g.state, protocolType: g.protocolType,
        protocol: g.protocol,
        members: g.members.map(m => {
          const a = m.memberAssignment && m.memberAssignment.length ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null
          const md = m.memberMetadata && m.memberMetadata.length ? AssignerProtocol.MemberMetadata.decode(m.memberMetadata) : null
          return { memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost,
                   assignment: a && a.assignment, topics: md && md.topics }
        }),
      }))
    }
    case 'deleteGroups':
      try {
        return { results: await admin.deleteGroups(op.groupIds) }
      } catch (e) {
        if (!e.groups) throw e
        return { failed: e.groups.map(g => ({ groupId: g.groupId, errorCode: g.errorCode, type: g.error && g.error.type })) }
      }
    default:
      throw new Error(`unknown op ${op.op}`)
  }
}

async function main() {
  const spec = JSON.parse(require('fs').readFileSync(0, 'utf8'))
  const kafka = new Kafka({
    clientId: 'skua-compat-kafkajs',
    brokers: spec.brokers,
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: spec.retries === undefined ? 3 : spec.retries, initialRetryTime: 100, maxRetryTime: 1000 },
  })
  const admin = kafka.admin()
  await admin.connect()
  const producers = {}
  const results = []
  try {
    for (const op of spec.ops) {
      try {
        results.push({ ok: await run(kafka, admin, producers, op) })
      } catch (e) {
        results.push({ error: errorJson(e) })
        if (op.stopOnError) break
      }
    }
  } finally {
    for (const p of Object.values(producers)) await p.disconnect().catch(() => {})
    await admin.disconnect().catch(() => {})
  }
  process.stdout.write(JSON.stringify(results) + '\n')
}

main().then(
  () => process.exit(0),
  e => {
    process.stdout.write(JSON.stringify([{ fatal: errorJson(e) }]) + '\n')
    process.exit(3)
  }
)
