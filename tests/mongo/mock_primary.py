"""A scripted replica-set primary for the mongodb change-stream client's tests (Debian's
python3-mockupdb): it answers the handshake as member of replica set rs0 with $clusterTime and
operationTime, then plays SCENARIO, printing one line per command it received ("got aggregate
{...}") so the test can check what the client sent. It stores nothing.

    /usr/bin/python3 tests/mongo/mock_primary.py PORT_FILE SCENARIO

Writes the port it listens on to PORT_FILE once ready. Scenarios:
  events      aggregate -> 2 events (insert, update), getMore -> 1 event (delete) and then
              empty batches, each with a postBatchResumeToken; ends on killCursors or after 30 s
  quiet       aggregate -> no event, postBatchResumeToken {_data: "82000009"}; getMore likewise
  lost        aggregate -> error 286 ChangeStreamHistoryLost
  disabled    aggregate -> DocumentDB's "change streams are not enabled" error (code 136)
"""
import os
import sys
import time

from bson import ObjectId, Timestamp, json_util
from mockupdb import MockupDB, OpMsgReply

port_file, scenario = sys.argv[1], sys.argv[2]
CLUSTER_TIME = {"clusterTime": Timestamp(1764475200, 1), "signature": {"hash": b"\0" * 20, "keyId": 0}}


def hello(server):
    # The address the client connects to (127.0.0.1): a member whose "me" differs from its seed
    # is dropped from the topology.
    address = "127.0.0.1:%d" % server.port
    return {
        "ismaster": True, "isWritablePrimary": True, "setName": "rs0", "setVersion": 1,
        "hosts": [address], "me": address, "primary": address, "minWireVersion": 0, "maxWireVersion": 13,
        "electionId": ObjectId("7fffffff0000000000000001"),
        "logicalSessionTimeoutMinutes": 30, "$clusterTime": CLUSTER_TIME,
        "operationTime": Timestamp(1764475200, 1),
    }


def event(op, n, **fields):
    doc = {"_id": {"_data": "82%06d" % n}, "operationType": op,
           "clusterTime": Timestamp(1764475200 + n, 1),
           "ns": {"db": "shop", "coll": "orders"}, "documentKey": {"_id": n}}
    doc.update(fields)
    return doc


server = MockupDB(max_wire_version=13, request_timeout=60)
server.run()
server.autoresponds("ismaster", hello(server))
server.autoresponds("isMaster", hello(server))
server.autoresponds("hello", hello(server))
server.autoresponds("ping", {"ok": 1, "$clusterTime": CLUSTER_TIME})
server.autoresponds("endSessions", {"ok": 1})
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.port))
os.rename(port_file + ".tmp", port_file)

deadline = time.time() + 30
cursor_id = 4242
events = [event("insert", 1, fullDocument={"_id": 1, "a": 1}),
          event("update", 2, updateDescription={"updatedFields": {"a": 2}, "removedFields": [],
                                                 "truncatedArrays": []})]
while time.time() < deadline:
    request = server.receive(timeout=max(1, int(deadline - time.time())))
    name = request.command_name
    print("got", name, json_util.dumps(request.doc), flush=True)
    if name == "aggregate":
        if scenario == "lost":
            request.reply(OpMsgReply(ok=0, code=286, codeName="ChangeStreamHistoryLost",
                                     errmsg="Resume of change stream was not possible, as the "
                                            "resume point may no longer be in the oplog."))
            break
        elif scenario == "disabled":
            request.reply(OpMsgReply(ok=0, code=136, errmsg="Change streams are not enabled. "
                                     "Use modifyChangeStreams to enable them."))
            break
        elif scenario == "quiet":
            events = []
            request.reply({"cursor": {"id": cursor_id, "ns": "admin.$cmd.aggregate",
                                      "firstBatch": [],
                                      "postBatchResumeToken": {"_data": "82000009"}},
                           "ok": 1, "$clusterTime": CLUSTER_TIME,
                           "operationTime": Timestamp(1764475209, 1)})
        else:
            request.reply({"cursor": {"id": cursor_id, "ns": "shop.orders", "firstBatch": events,
                                      "postBatchResumeToken": {"_data": "82000002"}},
                           "ok": 1, "$clusterTime": CLUSTER_TIME,
                           "operationTime": Timestamp(1764475202, 1)})
    elif name == "getMore":
        batch = [event("delete", 3)] if events else []
        events = []
        token = "82000009" if scenario == "quiet" else "82000003"
        request.reply({"cursor": {"id": cursor_id, "ns": "shop.orders", "nextBatch": batch,
                                  "postBatchResumeToken": {"_data": token}},
                       "ok": 1, "$clusterTime": CLUSTER_TIME})
    elif name == "killCursors":
        request.reply({"cursorsKilled": [cursor_id], "ok": 1})
        break
    else:
        request.reply({"ok": 1})
server.stop()
