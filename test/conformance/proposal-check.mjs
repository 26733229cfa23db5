// Checks a proposal built and signed by our C client (gx-fabric-peer print-proposal) with the official Node
// packages: it decodes with @hyperledger/fabric-protos into the structure @hyperledger/fabric-gateway builds, the
// tx id follows hex(SHA-256(nonce || creator)), the digest is SHA-256(proposal_bytes), and the signature verifies
// with low-S required (noble-curves, as the Node client's signer) while its high-S twin is rejected.
//
//   node proposal-check.mjs <gx-fabric-peer binary> <identity dir with cert.pem + key.pem>
// Prints "ok <name>" / "not ok <name>: why" lines and "N passed, N failed" last; exit 1 on any failure.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { connect } from '@hyperledger/fabric-gateway';
import { common, msp, peer, gateway as gwpb } from '@hyperledger/fabric-protos';
import { p256 } from '@noble/curves/p256';
import * as grpc from '@grpc/grpc-js';

const [bin, idDir] = process.argv.slice(2);
const certPem = fs.readFileSync(path.join(idDir, 'cert.pem'));
const args = ['AdminContract:UpdateSystemParameter', 'transactionFeeBps', '12'];
let pass = 0, fail = 0;
function check(name, cond, why = '') {
	if (cond) { pass++; console.log(`ok ${name}`); } else { fail++; console.log(`not ok ${name}${why ? ': ' + why : ''}`); }
}

function decode(bytes) {
	const prop = peer.Proposal.deserializeBinary(bytes);
	const hdr = common.Header.deserializeBinary(prop.getHeader_asU8());
	const ch = common.ChannelHeader.deserializeBinary(hdr.getChannelHeader_asU8());
	const sh = common.SignatureHeader.deserializeBinary(hdr.getSignatureHeader_asU8());
	const ext = peer.ChaincodeHeaderExtension.deserializeBinary(ch.getExtension_asU8());
	const cpp = peer.ChaincodeProposalPayload.deserializeBinary(prop.getPayload_asU8());
	const cis = peer.ChaincodeInvocationSpec.deserializeBinary(cpp.getInput_asU8());
	const spec = cis.getChaincodeSpec();
	const creator = msp.SerializedIdentity.deserializeBinary(sh.getCreator_asU8());
	return {
		type: ch.getType(), version: ch.getVersion(), epoch: ch.getEpoch(), channel: ch.getChannelId(),
		txId: ch.getTxId(), hasTimestamp: ch.hasTimestamp(), tlsCertHash: ch.getTlsCertHash_asU8().length,
		chaincode: ext.getChaincodeId().getName(), specChaincode: spec.getChaincodeId().getName(),
		args: spec.getInput().getArgsList_asU8().map((a) => Buffer.from(a).toString()),
		nonce: Buffer.from(sh.getNonce_asU8()), creator: Buffer.from(sh.getCreator_asU8()),
		mspId: creator.getMspid(), idBytes: Buffer.from(creator.getIdBytes_asU8()),
		transient: cpp.getTransientmapMap().getLength(), propExtension: prop.getExtension_asU8().length,
	};
}

const out = JSON.parse(execFileSync(bin, ['print-proposal', 'Org1MSP', path.join(idDir, 'cert.pem'),
	path.join(idDir, 'key.pem'), 'gxchannel', 'gxtv3', ...args]).toString());
const bytes = Buffer.from(out.proposal, 'hex');
const sig = Buffer.from(out.signature, 'hex');
const c = decode(bytes);

// The same proposal built offline by the Node client (no network call happens for newProposal)
const client = new grpc.Client('127.0.0.1:1', grpc.credentials.createInsecure());
const gw = connect({ client, identity: { mspId: 'Org1MSP', credentials: certPem } });
const nodeProp = gw.getNetwork('gxchannel').getContract('gxtv3').newProposal(args[0], { arguments: args.slice(1) });
const proposed = gwpb.ProposedTransaction.deserializeBinary(nodeProp.getBytes());
const n = decode(proposed.getProposal().getProposalBytes_asU8());
gw.close();
client.close();

for (const f of ['type', 'version', 'epoch', 'channel', 'hasTimestamp', 'tlsCertHash', 'chaincode', 'specChaincode',
	'mspId', 'transient', 'propExtension'])
	check(`field ${f} matches the Node client`, c[f] === n[f], `C ${c[f]} vs Node ${n[f]}`);
check('args match the Node client', JSON.stringify(c.args) === JSON.stringify(n.args), `${c.args} vs ${n.args}`);
check('header type is ENDORSER_TRANSACTION (3)', c.type === 3);
check('nonce is 24 bytes like the Node client', c.nonce.length === 24 && n.nonce.length === 24);
check('id_bytes is the certificate PEM verbatim', c.idBytes.equals(certPem) && n.idBytes.equals(certPem));
check('creator bytes equal the Node client', c.creator.equals(n.creator));
const txid = crypto.createHash('sha256').update(Buffer.concat([c.nonce, c.creator])).digest('hex');
check('tx id = hex(SHA-256(nonce || creator))', c.txId === txid && out.txId === txid, `${c.txId} vs ${txid}`);
const ntx = crypto.createHash('sha256').update(Buffer.concat([n.nonce, n.creator])).digest('hex');
check('the Node client follows the same tx id rule', n.txId === ntx && nodeProp.getTransactionId() === ntx);
const digest = crypto.createHash('sha256').update(bytes).digest();
check('Node digest rule is SHA-256(proposal_bytes)', Buffer.from(nodeProp.getDigest()).equals(
	crypto.createHash('sha256').update(proposed.getProposal().getProposalBytes_asU8()).digest()));
const pub = crypto.createPublicKey(crypto.createPublicKey({ key: certPem, format: 'pem' }).export({ type: 'spki', format: 'pem' }));
const rawPub = pub.export({ type: 'spki', format: 'der' }).subarray(-65);
check('signature verifies with low-S required (noble-curves)',
	p256.verify(sig, digest, rawPub, { prehash: false, lowS: true, format: 'der' }));
check('signature verifies in Node crypto', crypto.verify('sha256', bytes, pub, sig));
const parsed = p256.Signature.fromDER(sig);
const high = new p256.Signature(parsed.r, p256.CURVE.n - parsed.s).toDERRawBytes();
check('signature is low-S', parsed.s <= p256.CURVE.n / 2n);
check('its high-S twin is rejected with lowS required',
	!p256.verify(high, digest, rawPub, { prehash: false, lowS: true, format: 'der' }) &&
	p256.verify(high, digest, rawPub, { prehash: false, lowS: false, format: 'der' }));
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
