"""A tiny OpenAI-compatible chat server on 127.0.0.1:PORT (default 18814) for this case.

Streaming requests get a few words, then:
  * if the question contains "cut": the stream just ends — no finish_reason, no [DONE]
    (what a crashed worker or a proxy timeout looks like);
  * otherwise: finish_reason "length" (the answer hit max_tokens), then [DONE].
A question containing "slowly" streams half a second per word (tests abandon it mid-way).
Non-streaming requests (precompute) get a short complete answer, or, when the prompt mentions the loop
(item f1), the eight words with finish_reason "length"."""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = ["The", " loop", " stops", " one", " step", " early", " because", " the"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        self._json({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if not req.get("stream"):  # tests: a prompt about the loop (item f1) hits max_tokens, any other is complete
            long = "loop" in json.dumps(req["messages"])
            self._json(
                {
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": "".join(WORDS)
                                if long
                                else "The shop is open from nine to five, so at noon.",
                            },
                            "finish_reason": "length" if long else "stop",
                        }
                    ],
                    "usage": {},
                }
            )
            return
        cut = "cut" in req["messages"][-1]["content"].lower()
        slow = "slowly" in req["messages"][-1]["content"].lower()  # tests: half a second per word
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for n, word in enumerate(WORDS):
            if cut and n == 3:
                break
            if slow and n:
                time.sleep(0.5)
            self._chunk(
                "data: "
                + json.dumps({"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
                + "\n\n"
            )
        if not cut:
            self._chunk(
                "data: " + json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}) + "\n\n"
            )
            self._chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 18814), Handler).serve_forever()
