/**
 * Same-host machinery with no job knowledge: shared-memory links with futex wake-ups, and pipe
 * framing. Linux only (x86_64, aarch64). The JVM needs {@code --enable-native-access=ALL-UNNAMED}
 * (futex, through {@code dev.weft.posix}) and, for Agrona's buffers, {@code --add-exports
 * java.base/jdk.internal.misc=ALL-UNNAMED}.
 *
 * <h2>A shared-memory link</h2>
 *
 * <pre>{@code
 * // coordinator (creator)
 * ShmSegment segment = ShmSegment.create(
 *     new ShmConfig().coordinatorId(coordId).linkId(workerId).maxFrameType(MAX_TYPE));
 * segment.writeNonce(nonce);                 // then ask the worker, over gRPC, to read it back
 *
 * // worker (attacher)
 * ShmSegment segment = ShmSegment.attach(
 *     new ShmConfig().coordinatorId(coordId).linkId(workerId).maxFrameType(MAX_TYPE));
 * byte[] proof = segment.readNonce();        // send back over gRPC
 *
 * // either side; false means the ring is full: back off and offer again
 * segment.sender().offer(type, message.toByteArray());
 * // or without the intermediate array (flush moves dst's position to its limit):
 * segment.sender().offer(type, message.getSerializedSize(), dst -> {
 *   CodedOutputStream out = CodedOutputStream.newInstance(dst);
 *   writeAndFlush(message, out);             // wraps the IOException a buffer never throws
 * });
 * segment.receiver().receive((type, payload) -> dispatch(type, payload), 64, timeoutNs);
 * segment.heartbeat(clock.time());           // periodically; check segment.isPeerStale(...)
 * segment.close();                           // the creator's close unlinks the file
 * }</pre>
 *
 * <p>A {@link dev.weft.local.CorruptFrameException} from a receiver means the peer broke the
 * framing: close the segment and fall back to gRPC. {@link dev.weft.local.ShmSegment#sweepStale()}
 * at start-up removes segments whose creator died.
 *
 * <h2>A pipe link</h2>
 *
 * {@link dev.weft.local.FrameWriter} and {@link dev.weft.local.FrameReader} carry the same typed
 * frames over a child's stdin and stdout.
 */
package dev.weft.local;
