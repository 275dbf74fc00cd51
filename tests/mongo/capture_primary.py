"""A scripted replica-set primary with a change stream, in front of a CongoDB server (which has
neither), for the mongodb capture tests (Debian's python3-mockupdb and pymongo):

    /usr/bin/python3 tests/mongo/capture_primary.py PORT_FILE CONGODB_URI CONTROL_DIR GAP_SECONDS

It answers the handshake as the primary of replica set rs0 and forwards every other command to
CongoDB (so a backup through it dumps CongoDB's documents), except the change stream, which it
scripts: a cluster-wide $changeStream aggregate without resumeAfter (a backup recording where the
stream stands) gets an empty batch whose postBatchResumeToken stands at the current second; the
first aggregate with resumeAfter (a capture) starts the script: six events about documents of
shop.orders that CongoDB holds (and two new ones), one every GAP_SECONDS (the last two together,
so they come in one batch), each with a clusterTime
and wallTime of when it was released and a MongoDB 4.2+ resume token spelling its cluster time.
An aggregate with resumeAfter gets the released events after that token; getMore waits up to its
maxTimeMS for one; once all six are out, an empty getMore's postBatchResumeToken follows the clock
(a quiet server's stream moving on). The events describe changes; CongoDB itself is never changed.

Control files in CONTROL_DIR (each used once, then removed):
  hangup   the next getMore of a change stream closes the connection instead of answering
  outage   like hangup, and the next hello (the driver's check of the server) closes its
           connection too
  lost     the next aggregate with resumeAfter gets error 286 ChangeStreamHistoryLost
and one read each time it is asked, never removed:
  oplog    "N": a find on local.oplog.rs answers with one entry N seconds old (the oldest of an
           oplog reaching N seconds back); absent, the find goes to CongoDB (which has none)

Writes the port to PORT_FILE once ready, and one line per change-stream command received and per
event released ("released N WALL_MS T.I TOKEN OP ID") to stdout. Runs until killed.
"""
import datetime
import os
import sys
import threading
import time

import pymongo
from bson import ObjectId, SON, Timestamp, json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
import mockupdb
from mockupdb import MockupDB, OpMsgReply

# mockupdb formats every reply for its log, decoding it: raw forwarded replies stay undecoded.
mockupdb.docs_repr = lambda *docs: "<%d document(s)>" % len(docs)

port_file, congodb_uri, control_dir, gap = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
# Binaries of the UUID subtype stay binaries whatever their length.
forward = pymongo.MongoClient(congodb_uri, uuidRepresentation="unspecified")
lock = threading.Lock()
released = []        # (position, event) in cluster-time order
script = None        # the events still to release, built at the first capture
release_start = None
refused_hellos = 0   # hello requests still to answer by hanging up (after an outage)
cursors = {}         # cursor id -> position (events after it are next)
next_cursor = [7000000]
TOKEN_TAIL = "2B022C0100296E5A1004"


def say(*words):
    print(*words, flush=True)


def position_of(t, i):
    return (t << 32) | i


def token(position):
    return {"_data": "82%016X%s" % (position, TOKEN_TAIL)}


def token_position(tok):
    data = tok.get("_data", "") if tok else ""
    return int(data[2:18], 16) if data.startswith("82") and len(data) >= 18 else 0


def cluster_time_now():
    return {"clusterTime": Timestamp(int(time.time()), 1),
            "signature": {"hash": b"\0" * 20, "keyId": 0}}


def hello(server):
    address = "127.0.0.1:%d" % server.port
    return {
        "ismaster": True, "isWritablePrimary": True, "setName": "rs0", "setVersion": 1,
        "hosts": [address], "me": address, "primary": address, "minWireVersion": 0,
        "maxWireVersion": 13, "electionId": ObjectId("7fffffff0000000000000001"),
        "logicalSessionTimeoutMinutes": 30, "$clusterTime": cluster_time_now(),
        "operationTime": Timestamp(int(time.time()), 1),
    }


def build_script():
    orders = list(forward.shop.orders.find({}, {"_id": 1}).sort("_id", 1).limit(3))
    d1, d2, d3 = [d["_id"] for d in orders]
    new1, new2 = ObjectId("65f000000000000000000001"), ObjectId("65f000000000000000000002")
    return [
        ("insert", new1, {"fullDocument": {"_id": new1, "key": "new1", "v": 1}}),
        ("update", d1, {"updateDescription": {"updatedFields": {"v": 100, "nested.a": 42},
                                              "removedFields": ["text"], "truncatedArrays": []}}),
        ("delete", d2, {}),
        ("insert", new2, {"fullDocument": {"_id": new2, "key": "new2", "v": 1}}),
        ("update", new1, {"updateDescription": {"updatedFields": {"v": 2}, "removedFields": [],
                                                "truncatedArrays": []}}),
        ("delete", d3, {}),
    ]


def release_due():
    """Releases the scripted events whose time has come (called with the lock held)."""
    if release_start is None:
        return
    # The last two come together (one batch): slots 1, 2, 3, 4, 5, 5.
    while script and time.time() >= release_start + gap * min(len(released) + 1, 5):
        op, doc_id, fields = script.pop(0)
        n = len(released) + 1
        now = time.time()
        t = int(now)
        position = position_of(t, n)
        event = {"_id": token(position), "operationType": op, "clusterTime": Timestamp(t, n),
                 "wallTime": datetime.datetime.fromtimestamp(now, datetime.timezone.utc),
                 "ns": {"db": "shop", "coll": "orders"}, "documentKey": {"_id": doc_id}}
        event.update(fields)
        released.append((position, event))
        say("released", n, int(now * 1000), "%d.%d" % (t, n), event["_id"]["_data"], op, doc_id)


def events_after(position, limit):
    with lock:
        release_due()
        return [e for p, e in released if p > position][:limit]


def take_control(name):
    path = os.path.join(control_dir, name)
    try:
        os.remove(path)
        return True
    except FileNotFoundError:
        return False


def batch_token(position, batch):
    return batch[-1]["_id"] if batch else token(position)


def change_stream_aggregate(request):
    global script, release_start
    doc = request.doc
    say("got aggregate", json_util.dumps(doc))
    stage = doc["pipeline"][0]["$changeStream"]
    resume = stage.get("resumeAfter")
    if resume is not None:
        if take_control("lost"):
            request.reply(OpMsgReply(ok=0, code=286, codeName="ChangeStreamHistoryLost",
                                     errmsg="Resume of change stream was not possible, as the "
                                            "resume point may no longer be in the oplog."))
            return True
        with lock:
            if script is None:
                script = build_script()
                release_start = time.time()
        position = token_position(resume)
    else:
        position = position_of(int(time.time()), 0)
    batch = events_after(position, doc.get("cursor", {}).get("batchSize", 1000) or 1000)
    if batch:
        position = token_position(batch[-1]["_id"])
    with lock:
        cursor_id = next_cursor[0]
        next_cursor[0] += 1
        cursors[cursor_id] = position
    request.reply({"cursor": {"id": cursor_id, "ns": "admin.$cmd.aggregate", "firstBatch": batch,
                              "postBatchResumeToken": batch_token(position, batch)},
                   "ok": 1, "$clusterTime": cluster_time_now(),
                   "operationTime": Timestamp(int(time.time()), 1)})
    return True


def change_stream_get_more(request):
    doc = request.doc
    cursor_id = doc["getMore"]
    say("got getMore", cursor_id)
    if take_control("hangup"):
        say("hangup")
        request.hangup()
        return True
    if take_control("outage"):
        # The connection drops and the next check of the server (hello) fails too.
        global refused_hellos
        with lock:
            refused_hellos += 1
        say("outage")
        request.hangup()
        return True
    deadline = time.time() + min(doc.get("maxTimeMS", 1000), 5000) / 1000.0
    batch = []
    while True:
        with lock:
            position = cursors.get(cursor_id, 0)
        batch = events_after(position, doc.get("batchSize", 1000) or 1000)
        if batch or time.time() >= deadline:
            break
        time.sleep(0.02)
    if batch:
        position = token_position(batch[-1]["_id"])
        with lock:
            cursors[cursor_id] = position
    else:
        with lock:
            # Once the script is all out, an empty batch's token follows the clock, as a real
            # server's postBatchResumeToken follows its oplog while nothing matches.
            if script is not None and not script:
                position = max(position, position_of(int(time.time()), 0))
                cursors[cursor_id] = position
    request.reply({"cursor": {"id": cursor_id, "ns": "admin.$cmd.aggregate", "nextBatch": batch,
                              "postBatchResumeToken": batch_token(position, batch)},
                   "ok": 1, "$clusterTime": cluster_time_now()})
    return True


def forward_command(request):
    doc = request.doc
    db = doc.get("$db", "admin")
    command = SON((k, v) for k, v in doc.items()
                  if not k.startswith("$") and k not in ("lsid", "txnNumber"))
    try:
        # Raw: the documents go back as CongoDB sent them (pymongo would refuse to decode some,
        # such as a 4-byte binary of the UUID subtype).
        reply = forward[db].command(
            command, codec_options=CodecOptions(document_class=RawBSONDocument))
    except pymongo.errors.OperationFailure as e:
        request.reply(OpMsgReply(ok=0, code=e.code or 1, errmsg=str(e)))
        return True
    request.reply(SON(reply.items()))  # nested documents stay raw
    return True


def respond(request):
    name = request.command_name
    doc = request.doc
    if name in ("ismaster", "isMaster", "hello"):
        global refused_hellos
        with lock:
            refuse = refused_hellos > 0
            refused_hellos -= 1 if refuse else 0
        if refuse:
            say("hello refused")
            request.hangup()
            return True
        request.reply(hello(server))
        return True
    if name in ("ping", "endSessions", "buildInfo", "buildinfo"):
        request.reply({"ok": 1, "version": "6.0.0", "versionArray": [6, 0, 0, 0],
                       "$clusterTime": cluster_time_now()})
        return True
    if name == "connectionStatus":
        request.reply({"ok": 1, "authInfo": {"authenticatedUsers": [],
                                             "authenticatedUserRoles": []}})
        return True
    if name == "aggregate" and doc.get("pipeline") and "$changeStream" in doc["pipeline"][0]:
        return change_stream_aggregate(request)
    if name == "getMore" and doc["getMore"] in cursors:
        return change_stream_get_more(request)
    if name == "find" and doc.get("$db") == "local" and doc["find"] == "oplog.rs":
        try:
            with open(os.path.join(control_dir, "oplog")) as f:
                seconds_back = int(f.read().strip())
        except FileNotFoundError:
            return forward_command(request)
        entry = {"ts": Timestamp(int(time.time()) - seconds_back, 1), "op": "n"}
        request.reply({"cursor": {"id": 0, "ns": "local.oplog.rs", "firstBatch": [entry]},
                       "ok": 1, "$clusterTime": cluster_time_now()})
        return True
    if name == "killCursors" and any(c in cursors for c in doc.get("cursors", [])):
        request.reply({"cursorsKilled": doc["cursors"], "ok": 1})
        return True
    return forward_command(request)


server = MockupDB(max_wire_version=13, request_timeout=3600)
server.autoresponds(respond)
server.run()
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.port))
os.rename(port_file + ".tmp", port_file)
while True:
    time.sleep(3600)
