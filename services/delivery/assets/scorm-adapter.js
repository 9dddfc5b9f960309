// Mirai's SCORM runtime adapter: window.API (SCORM 1.2) or window.API_1484_11 (SCORM
// 2004), for the SCO in the frame below. GetValue and SetValue are answered here, with
// the standard's error codes, from the data model's rules the server sends along
// (services/delivery/src/scorm/model.rs, one definition for both); Commit and Terminate
// send what changed to the server, which checks it again and keeps it. No cookie is
// involved: the page's URL carries the runtime's capability, and "commit" is relative to it.
(function () {
  "use strict";
  var R = window.MIRAI_RUNTIME;
  var v12 = R.version === "scorm_1.2";
  var values = R.values;          // element -> value, as the server holds them
  var pending = [];               // [element, value] set since the last commit, in order
  var seq = R.seq;                // the last commit the server applied
  var state = 0;                  // 0 not initialized, 1 running, 2 terminated
  var last = "0", diagnostic = "";

  var CODES = v12 ? {
    NotDefined: "201", NoRecord: "201", OutOfOrder: "201", Dependency: "201", NotUnique: "201", NoChildren: "202", NotArray: "203",
    Keyword: "402", ReadOnly: "403", WriteOnly: "404", Type: "405", Range: "405", NotInitialized: "0"
  } : {
    NotDefined: "401", NoChildren: "301", NotArray: "301", Keyword: "404", ReadOnly: "404",
    WriteOnly: "405", Type: "406", Range: "407", NotInitialized: "403", Dependency: "408", OutOfOrder: "351", NoRecord: "301", NotUnique: "351"
  };
  var MESSAGES = v12 ? {
    "0": "No error", "101": "General exception", "201": "Invalid argument error",
    "202": "Element cannot have children", "203": "Element not an array - cannot have count",
    "301": "Not initialized", "401": "Not implemented error",
    "402": "Invalid set value, element is a keyword", "403": "Element is read only",
    "404": "Element is write only", "405": "Incorrect data type"
  } : {
    "0": "No Error", "101": "General Exception", "102": "General Initialization Failure",
    "103": "Already Initialized", "104": "Content Instance Terminated",
    "111": "General Termination Failure", "112": "Termination Before Initialization",
    "113": "Termination After Termination", "122": "Retrieve Data Before Initialization",
    "123": "Retrieve Data After Termination", "132": "Store Data Before Initialization",
    "133": "Store Data After Termination", "142": "Commit Before Initialization",
    "143": "Commit After Termination", "201": "General Argument Error",
    "301": "General Get Failure", "351": "General Set Failure", "391": "General Commit Failure",
    "401": "Undefined Data Model Element", "402": "Unimplemented Data Model Element",
    "403": "Data Model Element Value Not Initialized", "404": "Data Model Element Is Read Only",
    "405": "Data Model Element Is Write Only", "406": "Data Model Element Type Mismatch",
    "407": "Data Model Element Value Out Of Range", "408": "Data Model Dependency Not Established"
  };
  var MAX_RECORDS = 500, MAX_NESTED = 36;  // as model.rs bounds arrays
  var regexCache = {};
  function whole(re) {
    return regexCache[re] || (regexCache[re] = new RegExp("^(?:" + re + ")$"));
  }
  function fail(code, why) { last = String(code); diagnostic = why || ""; }
  function ok() { last = "0"; diagnostic = ""; }

  function find(element) {
    var parts = String(element).split(".");
    rules: for (var r = 0; r < R.rules.length; r++) {
      var pattern = R.rules[r].path.split("."), depth = 0;
      if (pattern.length !== parts.length) continue;
      for (var i = 0; i < pattern.length; i++) {
        if (pattern[i] === "n") {
          var bound = depth++ === 0 ? MAX_RECORDS : MAX_NESTED;
          if (!/^(0|[1-9][0-9]*)$/.test(parts[i]) || Number(parts[i]) >= bound) continue rules;
        } else if (pattern[i] !== parts[i]) continue rules;
      }
      return R.rules[r];
    }
    return null;
  }
  function count(prefix) {
    var bound = prefix.split(".").length > 2 ? MAX_NESTED : MAX_RECORDS;
    for (var i = 0; i < bound; i++) {
      var head = prefix + "." + i + ".", found = false;
      for (var k in values) if (k.lastIndexOf(head, 0) === 0) { found = true; break; }
      if (!found) return i;
    }
    return bound;
  }
  function arrays(rule, element) {
    var parts = element.split("."), path = rule.path.split("."), out = [];
    for (var n = 0; n < path.length; n++) {
      if (path[n] === "n") out.push([parts.slice(0, n).join("."), Number(parts[n]), parts.slice(n + 1).join(".")]);
    }
    return out;
  }
  function number(re, min, max, value) {
    if (value === "" || !whole(re).test(value)) return "Type";
    var n = Number(value);
    if (isNaN(n)) return "Type";
    if ((min !== null && min !== undefined && n < min) || (max !== null && max !== undefined && n > max)) return "Range";
    return null;
  }
  function longId(value) {
    if (value.length > 4000) return false;
    if (value.lastIndexOf("urn:", 0) === 0) return /^urn:[A-Za-z0-9-]{1,31}:\S+$/.test(value);
    return value.length > 0 && !/\s/.test(value);
  }
  function check(kind, value) {
    if (value.indexOf("\u0000") >= 0) return "Type";  // no type holds a NUL
    switch (kind.t) {
      case "str": return value.length <= kind.max ? null : "Type";
      case "re": return value.length <= kind.max && whole(kind.re).test(value) ? null : "Type";
      case "vocab": return kind.values.indexOf(value) >= 0 ? null : "Type";
      case "num": return kind.blank && value === "" ? null : number(kind.re, kind.min, kind.max, value);
      case "result": return kind.values.indexOf(value) >= 0 ? null : number(kind.re, null, null, value);
      case "long_id": return longId(value) ? null : "Type";
      case "lang_str":
        var text = value;
        if (value.lastIndexOf("{lang=", 0) === 0) {
          var close = value.indexOf("}");
          if (close < 0) return "Type";
          var lang = value.slice(6, close);
          if (lang !== "" && !/^([a-zA-Z]{2,3}|i|x)(-[a-zA-Z0-9\-]{2,8})*$/.test(lang)) return "Type";
          text = value.slice(close + 1);
        }
        return text.length <= kind.max ? null : "Type";
      default: return "Keyword";
    }
  }
  function num(k) { var x = values[k]; return x === undefined || x === "" ? null : Number(x); }
  function derived(element) {
    // RTE 4.2.4.1 and 4.2.22.1: with a threshold or passing score, the LMS decides.
    if (element === "cmi.completion_status") {
      var t = num("cmi.completion_threshold"), p = num("cmi.progress_measure");
      if (t !== null) return p === null ? "unknown" : p >= t ? "completed" : "incomplete";
    }
    if (element === "cmi.success_status") {
      var pass = num("cmi.scaled_passing_score"), s = num("cmi.score.scaled");
      if (pass !== null) return s === null ? "unknown" : s >= pass ? "passed" : "failed";
    }
    return values[element];
  }

  function get(element) {
    element = String(element);
    var rule = find(element);
    if (!rule) {
      var why = /\._children$/.test(element) ? "NoChildren" : /\._count$/.test(element) ? "NotArray" : "NotDefined";
      return fail(CODES[why], element), "";
    }
    if (rule.access === "wo") return fail(CODES.WriteOnly, element), "";
    var recs = arrays(rule, element);
    for (var i = 0; i < recs.length; i++) {
      if (recs[i][1] >= count(recs[i][0])) return fail(CODES.NoRecord, "no record " + recs[i][1] + " of " + recs[i][0]), "";
    }
    if (rule.kind.t === "keyword") return ok(), rule.kind.value;
    if (rule.kind.t === "count") return ok(), String(count(element.replace(/\._count$/, "")));
    var value = derived(element);
    if (value === undefined) {
      if (v12) return ok(), "";
      return fail("403", element), "";
    }
    return ok(), value;
  }

  function set(element, value) {
    element = String(element); value = String(value);
    var rule = find(element);
    if (!rule) {
      var keyword = /\.(_children|_count|_version)$/.test(element);
      return fail(CODES[keyword ? "Keyword" : "NotDefined"], element), "false";
    }
    if (rule.kind.t === "keyword" || rule.kind.t === "count") return fail(CODES.Keyword, element), "false";
    if (rule.access === "ro") return fail(CODES.ReadOnly, element), "false";
    var bad = check(rule.kind, value);
    if (bad) return fail(CODES[bad], element + ": " + value), "false";
    var recs = arrays(rule, element);
    for (var i = 0; i < recs.length; i++) {
      var n = count(recs[i][0]);
      if (recs[i][1] > n) return fail(CODES.OutOfOrder, "record " + recs[i][1] + " of " + recs[i][0] + " before " + n), "false";
      var keyed = recs[i][0] === "cmi.interactions" || recs[i][0] === "cmi.objectives";
      if (!v12 && recs[i][1] === n && keyed && recs[i][2] !== "id") return fail("408", "set the id first"), "false";
    }
    var o = /^cmi\.objectives\.(\d+)\.id$/.exec(element);
    if (!v12 && o) {
      for (var j = 0, c = count("cmi.objectives"); j < c; j++) {
        if (String(j) !== o[1] && values["cmi.objectives." + j + ".id"] === value) return fail(CODES.NotUnique, "objective id in use"), "false";
      }
    }
    var m = /^cmi\.interactions\.(\d+)\.(learner_response|correct_responses\.\d+\.pattern)$/.exec(element);
    if (!v12 && m && values["cmi.interactions." + m[1] + ".type"] === undefined) return fail("408", "set the type first"), "false";
    values[element] = value;
    pending.push([element, value]);
    return ok(), "true";
  }

  // Sends what changed, in order, under the next sequence number; the server applies a
  // sequence number once. A batch that got no answer (the network) is sent again as it
  // was before anything newer, so a commit applied whose answer was lost is not lost
  // itself; a batch the server refused (4xx) is dropped, its values unkept.
  var inflight = null;            // {event, body}: sent, not answered yet
  function deliver() {
    var xhr = new XMLHttpRequest();
    try {
      xhr.open("POST", "commit", false);
      xhr.setRequestHeader("Content-Type", "application/json");
      xhr.send(inflight.body);
    } catch (e) {
      // A page being dismissed may not block (Chrome refuses a synchronous request in
      // unload): the browser delivers a beacon after the page is gone.
      if (inflight.event === "terminate" && navigator.sendBeacon &&
          navigator.sendBeacon("commit", new Blob([inflight.body], { type: "application/json" }))) {
        seq += 1; inflight = null;
        return null;
      }
      return "network: " + e;
    }
    if (xhr.status >= 400 && xhr.status < 500) { inflight = null; return xhr.status + " " + xhr.responseText; }
    if (xhr.status !== 200) return xhr.status + " " + xhr.responseText;
    var answer = JSON.parse(xhr.responseText);
    seq = answer.seq;
    inflight = null;
    values = answer.values;
    for (var i = 0; i < pending.length; i++) values[pending[i][0]] = pending[i][1];
    return null;
  }
  function send(event) {
    if (inflight) {
      var err = deliver();
      if (err) return err;
    }
    inflight = { event: event, body: JSON.stringify({ seq: seq + 1, event: event, values: pending }) };
    pending = [];
    return deliver();
  }

  function initialize(arg) {
    if (String(arg) !== "") return fail("201", "the argument must be empty"), "false";
    if (state === 1) return fail(v12 ? "101" : "103"), "false";
    if (state === 2) return fail(v12 ? "101" : "104"), "false";
    var err = send("initialize");
    if (err) return fail(v12 ? "101" : "102", err), "false";
    state = 1;
    return ok(), "true";
  }
  function terminate(arg) {
    if (String(arg) !== "") return fail("201", "the argument must be empty"), "false";
    if (state === 0) return fail(v12 ? "301" : "112"), "false";
    if (state === 2) return fail(v12 ? "301" : "113"), "false";
    var err = send("terminate");
    if (err) return fail(v12 ? "101" : "111", err), "false";
    state = 2;
    return ok(), "true";
  }
  function commit(arg) {
    if (String(arg) !== "") return fail("201", "the argument must be empty"), "false";
    if (state === 0) return fail(v12 ? "301" : "142"), "false";
    if (state === 2) return fail(v12 ? "301" : "143"), "false";
    var err = send("commit");
    if (err) return fail(v12 ? "101" : "391", err), "false";
    return ok(), "true";
  }
  function getValue(element) {
    if (state === 0) return fail(v12 ? "301" : "122"), "";
    if (state === 2) return fail(v12 ? "301" : "123"), "";
    if (element === undefined || element === null || String(element) === "") return fail(v12 ? "201" : "301"), "";
    return get(element);
  }
  function setValue(element, value) {
    if (state === 0) return fail(v12 ? "301" : "132"), "false";
    if (state === 2) return fail(v12 ? "301" : "133"), "false";
    if (element === undefined || element === null || String(element) === "") return fail(v12 ? "201" : "351"), "false";
    return set(element, value);
  }
  function errorString(code) { return MESSAGES[String(code)] || ""; }
  function diag(code) { return code === undefined || String(code) === "" || String(code) === last ? diagnostic : errorString(code); }

  if (v12) {
    window.API = {
      LMSInitialize: initialize, LMSFinish: terminate, LMSGetValue: getValue, LMSSetValue: setValue,
      LMSCommit: commit, LMSGetLastError: function () { return last; },
      LMSGetErrorString: errorString, LMSGetDiagnostic: diag
    };
  } else {
    window.API_1484_11 = {
      version: "1.0", Initialize: initialize, Terminate: terminate, GetValue: getValue, SetValue: setValue,
      Commit: commit, GetLastError: function () { return last; },
      GetErrorString: errorString, GetDiagnostic: diag
    };
  }
  // A SCO closed without terminating (the learner navigated away): what it set is kept,
  // and the page restored from the back-forward cache goes on with the next number.
  window.addEventListener("pagehide", function () {
    if (state !== 1 || !navigator.sendBeacon) return;
    if (inflight && navigator.sendBeacon("commit", new Blob([inflight.body], { type: "application/json" }))) {
      seq += 1; inflight = null;
    }
    if (!inflight && pending.length) {
      var body = JSON.stringify({ seq: seq + 1, event: "commit", values: pending });
      if (navigator.sendBeacon("commit", new Blob([body], { type: "application/json" }))) { seq += 1; pending = []; }
    }
  });
})();
