//! The pickle reader's memo shares objects: a container memoized while still empty and filled
//! afterwards (the order every pickler uses) is seen filled through every later reference; malformed
//! or hostile pickles are errors, never panics.
use esmdb_model::weights::pickle::{Value, parse};

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn ab() -> Value {
    Value::Dict(vec![(s("a"), Value::Int(1)), (s("b"), Value::Int(2))])
}

fn one_two_three() -> Value {
    Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)])
}

#[test]
fn dict_memoized_empty_is_filled_at_binget_protocol2() {
    // d = {"a": 1, "b": 2}; pickle.dumps([d, d], protocol=2)
    // EMPTY_LIST BINPUT 0 MARK EMPTY_DICT BINPUT 1 MARK ... SETITEMS BINGET 1 APPENDS STOP
    let data = b"\x80\x02]q\x00(}q\x01(X\x01\x00\x00\x00aq\x02K\x01X\x01\x00\x00\x00bq\x03K\x02uh\x01e.";
    assert_eq!(parse(data).unwrap(), Value::List(vec![ab(), ab()]));
}

#[test]
fn dict_memoized_empty_is_filled_at_binget_protocol4() {
    // d = {"a": 1, "b": 2}; pickle.dumps([d, d], protocol=4)  (FRAME, MEMOIZE, SHORT_BINUNICODE)
    let data = b"\x80\x04\x95\x17\x00\x00\x00\x00\x00\x00\x00]\x94(}\x94(\x8c\x01a\x94K\x01\x8c\x01b\x94K\x02uh\x01e.";
    assert_eq!(parse(data).unwrap(), Value::List(vec![ab(), ab()]));
}

#[test]
fn list_filled_by_appends_is_shared_protocol2_and_4() {
    // l = [1, 2, 3]; pickle.dumps({"x": l, "y": l}, protocol=2) and protocol=4
    let p2 = b"\x80\x02}q\x00(X\x01\x00\x00\x00xq\x01]q\x02(K\x01K\x02K\x03eX\x01\x00\x00\x00yq\x03h\x02u.";
    let p4 =
        b"\x80\x04\x95\x19\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01x\x94]\x94(K\x01K\x02K\x03e\x8c\x01y\x94h\x02u.";
    let expected = Value::Dict(vec![(s("x"), one_two_three()), (s("y"), one_two_three())]);
    assert_eq!(parse(p2).unwrap(), expected);
    assert_eq!(parse(p4).unwrap(), expected);
}

#[test]
fn long_binput_and_long_binget_share_filled_containers() {
    // Hand-written (CPython switches to LONG_BINPUT/LONG_BINGET past memo key 255):
    // EMPTY_LIST LONG_BINPUT 256 MARK
    //   EMPTY_DICT LONG_BINPUT 512 MARK "a" 1 "b" EMPTY_LIST LONG_BINPUT 513 MARK 7 8 APPENDS SETITEMS
    //   LONG_BINGET 512 LONG_BINGET 513
    // APPENDS STOP
    let data = b"\x80\x02]r\x00\x01\x00\x00(}r\x00\x02\x00\x00(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00b\
                 ]r\x01\x02\x00\x00(K\x07K\x08euj\x00\x02\x00\x00j\x01\x02\x00\x00e.";
    let inner = Value::List(vec![Value::Int(7), Value::Int(8)]);
    let dict = Value::Dict(vec![(s("a"), Value::Int(1)), (s("b"), inner.clone())]);
    assert_eq!(parse(data).unwrap(), Value::List(vec![dict.clone(), dict, inner]));
}

#[test]
fn build_state_is_seen_through_an_earlier_memo_entry() {
    // ns = argparse.Namespace(layers=6); pickle.dumps([ns, ns], protocol=2)
    // The Namespace is memoized (BINPUT 2) before BUILD gives it its attributes.
    let data = b"\x80\x02]q\x00(cargparse\nNamespace\nq\x01)\x81q\x02}q\x03X\x06\x00\x00\x00layersq\x04K\x06sbh\x02e.";
    let Value::List(items) = parse(data).unwrap() else { panic!("not a list") };
    assert_eq!(items.len(), 2);
    for ns in &items {
        assert_eq!(ns.attr("layers").and_then(Value::as_int), Some(6), "{ns:?}");
    }
}

#[test]
fn ordered_dict_is_shared() {
    // od = collections.OrderedDict(w=1); pickle.dumps({"m": od, "n": od}, protocol=2)
    let data = b"\x80\x02}q\x00(X\x01\x00\x00\x00mq\x01ccollections\nOrderedDict\nq\x02)Rq\x03X\x01\x00\x00\x00wq\x04K\x01sX\x01\x00\x00\x00nq\x05h\x03u.";
    let v = parse(data).unwrap();
    let w = Value::Dict(vec![(s("w"), Value::Int(1))]);
    assert_eq!(v.get("m"), Some(&w));
    assert_eq!(v.get("n"), Some(&w));
}

#[test]
fn missing_memo_key_is_an_error() {
    let err = parse(b"\x80\x02]q\x00h\x01.").unwrap_err();
    assert_eq!(err, "pickle memo key 1 missing");
    let err = parse(b"\x80\x02]q\x00j\x00\x01\x00\x00.").unwrap_err();
    assert_eq!(err, "pickle memo key 256 missing");
    // Memoizing with nothing on the stack.
    assert_eq!(parse(b"\x80\x02q\x00N.").unwrap_err(), "pickle stack underflow");
}

#[test]
fn recursive_pickle_is_an_error() {
    // l = []; l.append(l); pickle.dumps(l, protocol=2)
    let err = parse(b"\x80\x02]q\x00h\x00a.").unwrap_err();
    assert!(err.contains("recursive pickle"), "{err}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // 100 000 nested lists: EMPTY_LIST x n, then APPEND x (n - 1).
    let n = 100_000;
    let mut data = vec![0x80, 2];
    data.extend(std::iter::repeat_n(b']', n));
    data.extend(std::iter::repeat_n(b'a', n - 1));
    data.push(b'.');
    let err = parse(&data).unwrap_err();
    assert!(err.contains("nested deeper than"), "{err}");
}

#[test]
fn exponential_sharing_is_an_error_not_an_allocation() {
    // t0 = (); t1 = (t0, t0); ...; t40 = (t39, t39): 2^40 copies once expanded.
    let mut data = b"\x80\x02)q\x00".to_vec();
    for i in 0..40u8 {
        data.extend([b'h', i, b'h', i, 0x86, b'q', i + 1]);
    }
    data.push(b'.');
    let err = parse(&data).unwrap_err();
    assert!(err.contains("expands too much"), "{err}");
}

#[test]
fn marks_where_objects_belong_are_errors() {
    assert_eq!(parse(b"\x80\x02(.").unwrap_err(), "unexpected MARK on the pickle stack");
    assert_eq!(parse(b"\x80\x02](a.").unwrap_err(), "unexpected MARK on the pickle stack");
    assert_eq!(parse(b"\x80\x02(q\x00.").unwrap_err(), "unexpected MARK on the pickle stack");
    assert_eq!(parse(b"\x80\x02Ne.").unwrap_err(), "pickle MARK not found");
    assert_eq!(parse(b"\x80\x02N(K\x01e.").unwrap_err(), "APPENDS on a scalar");
}

#[test]
fn every_truncation_and_corruption_is_an_error_or_a_value() {
    // No prefix of a valid pickle, and no single-byte corruption of one, may panic.
    let data = b"\x80\x02]r\x00\x01\x00\x00(}r\x00\x02\x00\x00(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00b\
                 ]r\x01\x02\x00\x00(K\x07K\x08euj\x00\x02\x00\x00j\x01\x02\x00\x00e.";
    for end in 0..data.len() {
        assert!(parse(&data[..end]).is_err(), "prefix of {end} bytes");
    }
    for i in 0..data.len() {
        for b in 0..=255u8 {
            let mut bad = data.to_vec();
            bad[i] = b;
            let _ = parse(&bad);
        }
    }
}
