// kafkajs consumer-group agent: the same protocol as scenarios/group_agent.py (read its docstring).
//
// usage: node group_agent.js '<config json>'   config = {bootstrap, consumers: [{name, group, topics,
//   client_id, session_ms, heartbeat_ms, commit: "batch" | "manual", extra}]}
// Events go to stdout as JSON lines; commands come on stdin. kafkajs has no rebalance callbacks:
// every completed join/sync (GROUP_JOIN) is reported as an eager "assign" of the whole assignment.
// batch mode: kafkajs's own auto-commit after each eachBatch (autoCommit, resolved offsets); records
// are reported when a COMMIT_OFFSETS event covers them.
'use strict'

const { Kafka, logLevel } = require('kafkajs')
const readline = require('readline')

const LEAK = /UNKNOWN_MEMBER_ID|not aware of this member/i

function emit(ev) {
  ev.t = Date.now() / 1000
  process.stdout.write(JSON.stringify(ev) + '\n')
}

const txt = b => (b === null || b === undefined ? null : b.toString('utf8'))

function logCreator(name) {
  return () => ({ namespace, level, label, log }) => {
    const { message, ...extra } = log
    const line = `${message} ${JSON.stringify(extra)}`
    if (level <= logLevel.INFO) process.stderr.write(`[${name}] ${label} ${namespace}: ${line}\n`)
    if (LEAK.test(line)) emit({ ev: 'log', c: name, level: label, msg: line.slice(0, 500) })
  }
}

async function runConsumer(cfg, bootstrap, commands) {
  const name = cfg.name
  const mode = cfg.commit || 'batch'
  const kafka = new Kafka({
    clientId: cfg.client_id || name,
    brokers: [bootstrap],
    logLevel: logLevel.INFO,
    logCreator: logCreator(name),
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
  })
  const consumer = kafka.consumer({
    groupId: cfg.group,
    sessionTimeout: cfg.session_ms || 10000,
    heartbeatInterval: cfg.heartbeat_ms || 500,
    rebalanceTimeout: 30000,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
    ...(cfg.extra || {}),
  })
  const pending = new Map() // "topic|partition" -> Map(offset -> rec)
  let owned = []
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const parts = []
    for (const [topic, ps] of Object.entries(payload.memberAssignment)) for (const p of ps) parts.push([topic, p])
    parts.sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1))
    // records read but not committed on partitions we no longer own are redelivered to the new owner
    const keep = new Set(parts.map(([t, p]) => `${t}|${p}`))
    for (const k of [...pending.keys()]) if (!keep.has(k)) pending.delete(k)
    owned = parts
    emit({ ev: 'assign', c: name, mode: 'eager', added: parts, owned: parts, member: payload.memberId,
           leader: payload.isLeader })
  })
  consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
    if (mode !== 'batch') return
    const out = []
    for (const { topic, partitions } of payload.topics) {
      for (const { partition, offset } of partitions) {
        const m = pending.get(`${topic}|${partition}`)
        if (!m) continue
        const next = Number(offset)
        for (const off of [...m.keys()].sort((a, b) => a - b)) {
          if (off < next) {
            out.push(m.get(off))
            m.delete(off)
          }
        }
      }
    }
    if (out.length) emit({ ev: 'msgs', c: name, recs: out })
  })
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    emit({ ev: 'error', c: name, error: `crash: ${payload.error && payload.error.message} (restart ${payload.restart})` })
  })
  await consumer.connect()
  for (const topic of cfg.topics) await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    autoCommit: mode === 'batch',
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      const recs = batch.messages.map(m => [batch.topic, batch.partition, Number(m.offset), txt(m.key), txt(m.value)])
      if (!recs.length) return
      if (mode !== 'batch') {
        emit({ ev: 'msgs', c: name, recs })
        return
      }
      const k = `${batch.topic}|${batch.partition}`
      if (!pending.has(k)) pending.set(k, new Map())
      for (const r of recs) pending.get(k).set(r[2], r)
    },
  })
  emit({ ev: 'subscribed', c: name })

  commands.on('cmd', async cmd => {
    try {
      if (cmd.cmd === 'close') {
        const t0 = Date.now()
        await consumer.disconnect()
        emit({ ev: 'closed', c: name, secs: (Date.now() - t0) / 1000 })
      } else if (cmd.cmd === 'commit') {
        try {
          await consumer.commitOffsets(cmd.offsets.map(([topic, partition, offset, metadata]) =>
            ({ topic, partition, offset: String(offset), metadata: metadata === undefined ? null : metadata })))
          emit({ ev: 'commit', c: name, ok: true, error: null, offsets: cmd.offsets })
        } catch (e) {
          emit({ ev: 'commit', c: name, ok: false, error: `${e.name} ${e.type || ''}: ${e.message}`, offsets: cmd.offsets })
        }
      } else if (cmd.cmd === 'committed') {
        const admin = kafka.admin()
        await admin.connect()
        const topics = [...new Set(cmd.parts.map(([t]) => t))]
        const res = await admin.fetchOffsets({ groupId: cfg.group, topics })
        await admin.disconnect()
        const out = []
        for (const [t, p] of cmd.parts) {
          const tr = res.find(x => x.topic === t)
          const pr = tr && tr.partitions.find(x => x.partition === p)
          out.push([t, p, pr ? Number(pr.offset) : null, pr ? pr.metadata : null])
        }
        emit({ ev: 'committed', c: name, offsets: out })
      }
    } catch (e) {
      emit({ ev: 'error', c: name, error: `${cmd.cmd}: ${e.name}: ${e.message}` })
    }
  })
}

async function main() {
  const cfg = JSON.parse(process.argv[2])
  const { EventEmitter } = require('events')
  const channels = {}
  for (const c of cfg.consumers) channels[c.name] = new EventEmitter()
  const rl = readline.createInterface({ input: process.stdin })
  rl.on('line', line => {
    line = line.trim()
    if (!line) return
    const cmd = JSON.parse(line)
    if (cmd.cmd === 'exit') process.exit(0)
    channels[cmd.c].emit('cmd', cmd)
  })
  rl.on('close', () => process.exit(0))
  await Promise.all(cfg.consumers.map(c =>
    runConsumer(c, cfg.bootstrap, channels[c.name]).catch(e => {
      process.stderr.write(`${c.name}: ${e.stack}\n`)
      emit({ ev: 'fatal', c: c.name, error: `${e.name}: ${e.message}` })
    })))
}

main()
