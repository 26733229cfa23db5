// Drives the gx-fabric-peer stand-in with the official Fabric Gateway Node client (@hyperledger/fabric-gateway).
// One scenario per invocation; prints one JSON object on stdout; exit 0 unless the client itself broke.
//
//   node client.mjs <scenario> [args...]      environment: PEER_ADDR (host:port), DEVCA (mkdevca.sh dir),
//                                             IDENTITY (users/<name> of DEVCA or a dir with cert.pem + key.pem)
// Scenarios:
//   submit <fn> [args...]        endorse, submit, wait for commit -> {txId, result, code, block} or {error}
//   evaluate <fn> [args...]      -> {result} or {error}
//   endorse-bad <wrong|highs> <fn> [args...]   endorse with a bad signature -> {error}
//   duplicate <fn> [args...]     submit and commit, then endorse the same signed proposal again -> {first, error}
//   resubmit <fn> [args...]      submit the same signed envelope twice -> {first, second, block...}
//   mvcc <fn> [args...]          endorse twice against the same state, submit both -> {codes: [..]}
//   events <startBlock> <count> [afterTxId]    read count events -> {events: [{block, txId, name, payload}]}
//   endorsement <fn> [args...]   endorse only -> the endorsement: {count, prp, endorser, signature (hex), mspId, cert}
//   bad-endorsement <highs|wrong|client> <fn> [args...]   submit with the endorsement's signature made high-S,
//                                made by another key, or endorser and signature both the client's -> {code, ...}
//   flood <n> <fn> [args...]     n concurrent evaluations -> {results: [{ok, ms} | {error, ms}]}
//   streams-then-evaluate <k> <fn> [args...]   hold k event streams open, evaluate, close them, evaluate again
//                                -> {during, after} each {ok} or {error}
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect, signers, hash } from '@hyperledger/fabric-gateway';
import { common, msp, peer, gateway as gwpb } from '@hyperledger/fabric-protos';

const CHANNEL = process.env.PEER_CHANNEL || 'gxchannel';
const CHAINCODE = process.env.PEER_CHAINCODE || 'gxtv3';
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function identityDir() {
	const id = process.env.IDENTITY || 'admin';
	return id.includes('/') ? id : path.join(process.env.DEVCA, 'users', id);
}

function open() {
	const dir = identityDir();
	const client = new grpc.Client(process.env.PEER_ADDR, grpc.credentials.createInsecure());
	const key = crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'key.pem')));
	const signer = signers.newPrivateKeySigner(key);
	const gateway = connect({
		client,
		identity: { mspId: process.env.MSP_ID || 'Org1MSP', credentials: fs.readFileSync(path.join(dir, 'cert.pem')) },
		signer,
		hash: hash.sha256,
		evaluateOptions: () => ({ deadline: Date.now() + 10000 }),
		endorseOptions: () => ({ deadline: Date.now() + 15000 }),
		submitOptions: () => ({ deadline: Date.now() + 10000 }),
		commitStatusOptions: () => ({ deadline: Date.now() + 60000 }),
	});
	const network = gateway.getNetwork(CHANNEL);
	return { client, gateway, network, contract: network.getContract(CHAINCODE), signer };
}

function errJson(e) {
	return {
		name: e.name,
		code: e.code,
		message: e.message,
		details: (e.details || []).map((d) => ({ address: d.address, mspId: d.mspId, message: d.message })),
		txId: e.transactionId,
	};
}

// Re-encode a DER ECDSA signature with s replaced by n - s (low-S <-> high-S).
function flipS(der) {
	const b = Buffer.from(der);
	let i = 2;
	const rlen = b[i + 1];
	const r = b.subarray(i + 2, i + 2 + rlen);
	i += 2 + rlen;
	const s = BigInt('0x' + b.subarray(i + 2, i + 2 + b[i + 1]).toString('hex'));
	const int = (buf) => {
		let x = Buffer.from(buf);
		while (x.length > 1 && x[0] === 0 && x[1] < 0x80) x = x.subarray(1);
		if (x[0] & 0x80) x = Buffer.concat([Buffer.from([0]), x]);
		return Buffer.concat([Buffer.from([0x02, x.length]), x]);
	};
	let hex = (N - s).toString(16);
	if (hex.length % 2) hex = '0' + hex;
	const body = Buffer.concat([int(r), int(Buffer.from(hex, 'hex'))]);
	return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

async function signedProposal(c, fn, args) {
	const unsigned = c.contract.newProposal(fn, { arguments: args });
	const sig = await c.signer(unsigned.getDigest());
	return c.gateway.newSignedProposal(unsigned.getBytes(), sig);
}

async function signedSubmit(c, tx) {
	const stx = c.gateway.newSignedTransaction(tx.getBytes(), await c.signer(tx.getDigest()));
	const commit = await stx.submit();
	return c.gateway.newSignedCommit(commit.getBytes(), await c.signer(commit.getDigest()));
}

async function statusOf(commit) {
	const st = await commit.getStatus({ deadline: Date.now() + 60000 });
	return { txId: st.transactionId, code: st.code, block: Number(st.blockNumber) };
}

const hex = (b) => Buffer.from(b).toString('hex');

// The nested messages of a prepared transaction down to its one endorsed action.
function endorsedAction(prepared) {
	const env = prepared.getEnvelope();
	const pl = common.Payload.deserializeBinary(env.getPayload_asU8());
	const tx = peer.Transaction.deserializeBinary(pl.getData_asU8());
	const cap = peer.ChaincodeActionPayload.deserializeBinary(tx.getActionsList()[0].getPayload_asU8());
	return { env, pl, tx, cap, action: cap.getAction() };
}

async function evaluateTimed(c, fn, args) {
	const t0 = Date.now();
	try {
		await c.contract.evaluateTransaction(fn, ...args);
		return { ok: true, ms: Date.now() - t0 };
	} catch (e) {
		return { error: errJson(e), ms: Date.now() - t0 };
	}
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const scenarios = {
	async submit(c, fn, ...args) {
		const p = await signedProposal(c, fn, args);
		const tx = await p.endorse();
		const commit = await signedSubmit(c, tx);
		return { ...(await statusOf(commit)), result: Buffer.from(tx.getResult()).toString() };
	},
	async evaluate(c, fn, ...args) {
		const t0 = Date.now();
		const result = Buffer.from(await c.contract.evaluateTransaction(fn, ...args)).toString();
		return { result, ms: Date.now() - t0 };
	},
	async 'endorse-bad'(c, mode, fn, ...args) {
		const unsigned = c.contract.newProposal(fn, { arguments: args });
		let sig = await c.signer(unsigned.getDigest());
		if (mode === 'highs') sig = flipS(sig);
		else sig = await c.signer(crypto.createHash('sha256').update('not the proposal').digest());
		const p = c.gateway.newSignedProposal(unsigned.getBytes(), sig);
		await p.endorse();
		return { unexpected: 'endorsed' };
	},
	async duplicate(c, fn, ...args) {
		const p = await signedProposal(c, fn, args);
		const first = await statusOf(await signedSubmit(c, await p.endorse()));
		try {
			await p.endorse();
			return { first, unexpected: 'endorsed again' };
		} catch (e) {
			return { first, error: errJson(e) };
		}
	},
	async resubmit(c, fn, ...args) {
		const tx = await (await signedProposal(c, fn, args)).endorse();
		const bytes = tx.getBytes();
		const sig = await c.signer(tx.getDigest());
		const c1 = await c.gateway.newSignedTransaction(bytes, sig).submit();
		const c2 = await c.gateway.newSignedTransaction(bytes, sig).submit();
		const s1 = c.gateway.newSignedCommit(c1.getBytes(), await c.signer(c1.getDigest()));
		return { first: await statusOf(s1), second: await statusOf(c.gateway.newSignedCommit(c2.getBytes(),
			await c.signer(c2.getDigest()))) };
	},
	async mvcc(c, fn, ...args) {
		const t1 = await (await signedProposal(c, fn, args)).endorse();
		const t2 = await (await signedProposal(c, fn, args)).endorse();
		const s1 = await signedSubmit(c, t1);
		const s2 = await signedSubmit(c, t2);
		return { results: [await statusOf(s1), await statusOf(s2)] };
	},
	async endorsement(c, fn, ...args) {
		const tx = await (await signedProposal(c, fn, args)).endorse();
		const { action } = endorsedAction(gwpb.PreparedTransaction.deserializeBinary(tx.getBytes()));
		const es = action.getEndorsementsList();
		const id = msp.SerializedIdentity.deserializeBinary(es[0].getEndorser_asU8());
		return { count: es.length, prp: hex(action.getProposalResponsePayload_asU8()),
			 endorser: hex(es[0].getEndorser_asU8()), signature: hex(es[0].getSignature_asU8()),
			 mspId: id.getMspid(), cert: Buffer.from(id.getIdBytes_asU8()).toString() };
	},
	async 'bad-endorsement'(c, mode, fn, ...args) {
		const tx = await (await signedProposal(c, fn, args)).endorse();
		const prepared = gwpb.PreparedTransaction.deserializeBinary(tx.getBytes());
		const { env, pl, tx: ptx, cap, action } = endorsedAction(prepared);
		const e = action.getEndorsementsList()[0];
		const prp = Buffer.from(action.getProposalResponsePayload_asU8());
		const digestOf = (endorser) => crypto.createHash('sha256').update(Buffer.concat([prp, endorser])).digest();
		if (mode === 'highs') {
			e.setSignature(flipS(e.getSignature_asU8()));
		} else if (mode === 'wrong') {
			e.setSignature(await c.signer(digestOf(Buffer.from(e.getEndorser_asU8()))));
		} else {
			const creator = new msp.SerializedIdentity();
			creator.setMspid(process.env.MSP_ID || 'Org1MSP');
			creator.setIdBytes(fs.readFileSync(path.join(identityDir(), 'cert.pem')));
			const cb = Buffer.from(creator.serializeBinary());
			e.setEndorser(cb);
			e.setSignature(await c.signer(digestOf(cb)));
		}
		cap.setAction(action);
		ptx.getActionsList()[0].setPayload(cap.serializeBinary());
		pl.setData(ptx.serializeBinary());
		env.setPayload(pl.serializeBinary());
		prepared.setEnvelope(env);
		const digest = crypto.createHash('sha256').update(env.getPayload_asU8()).digest();
		const commit = await c.gateway.newSignedTransaction(prepared.serializeBinary(), await c.signer(digest)).submit();
		return statusOf(c.gateway.newSignedCommit(commit.getBytes(), await c.signer(commit.getDigest())));
	},
	async flood(c, n, fn, ...args) {
		const calls = [];
		for (let i = 0; i < Number(n); i++) calls.push(evaluateTimed(c, fn, args));
		return { results: await Promise.all(calls) };
	},
	async 'streams-then-evaluate'(c, k, fn, ...args) {
		const its = [], drained = [];
		for (let i = 0; i < Number(k); i++) {
			const it = await c.network.getChaincodeEvents(CHAINCODE, { startBlock: 0n });
			its.push(it);
			drained.push((async () => { try { for await (const _ of it) { /* hold the stream */ } } catch { /* closed */ } })());
		}
		await sleep(1000);
		const during = await evaluateTimed(c, fn, args);
		for (const it of its) it.close();
		await Promise.all(drained);
		await sleep(1000);
		return { during, after: await evaluateTimed(c, fn, args) };
	},
	async events(c, start, count, after) {
		const opts = { startBlock: BigInt(start) };
		if (after) opts.checkpoint = { getBlockNumber: () => BigInt(start), getTransactionId: () => after };
		const it = await c.network.getChaincodeEvents(CHAINCODE, opts);
		const out = [];
		const timer = setTimeout(() => it.close(), Number(process.env.EVENTS_TIMEOUT_MS || 15000));
		try {
			for await (const ev of it) {
				out.push({ block: Number(ev.blockNumber), txId: ev.transactionId, name: ev.eventName,
					   payload: Buffer.from(ev.payload).toString() });
				if (out.length >= Number(count)) break;
			}
		} catch (e) {
			if (out.length < Number(count) && e.code !== grpc.status.CANCELLED) return { events: out, error: errJson(e) };
		} finally {
			clearTimeout(timer);
			it.close();
		}
		return { events: out };
	},
};

const [name, ...rest] = process.argv.slice(2);
if (!scenarios[name]) {
	console.error(`unknown scenario '${name}'`);
	process.exit(2);
}
const c = open();
let out;
try {
	out = await scenarios[name](c, ...rest);
} catch (e) {
	out = { error: errJson(e) };
}
c.gateway.close();
c.client.close();
console.log(JSON.stringify(out));
