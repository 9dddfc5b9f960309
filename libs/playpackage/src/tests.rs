//! The bundle format's own tests: every byte authenticated, the license's terms, build refusals.

use super::*;

const PLATFORM: [u8; 32] = [7; 32];
const DEVICE: [u8; 32] = [9; 32];
const OTHER_DEVICE: [u8; 32] = [11; 32];

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn bundle(files: &[(&str, &[u8])]) -> (Vec<u8>, License) {
    let license = License {
        license_id: Uuid::now_v7(),
        tenant_id: Uuid::now_v7(),
        learner_id: Uuid::now_v7(),
        device_id: Uuid::now_v7(),
        device_public_key: B64.encode(device_public_key(&DEVICE)),
        course_id: Uuid::now_v7(),
        version: 3,
        issued_at: t("2026-12-01T10:00:00Z"),
        expires_at: t("2026-12-31T10:00:00Z"),
        check_in_every_secs: 7 * 86_400,
    };
    let b = Build {
        bundle_id: Uuid::now_v7(),
        key_id: "k1",
        signing_key: &PLATFORM,
        course: Course {
            course_id: license.course_id,
            version: 3,
            title: "Ladders".into(),
            content_hash: "sha256:00".into(),
        },
        license: license.clone(),
        files,
        content_key: [1; 32],
        ephemeral_secret: [2; 32],
    };
    (build(b).unwrap(), license)
}

fn trusted() -> Vec<(&'static str, [u8; 32])> {
    vec![("k1", verifying_key(&PLATFORM))]
}

#[test]
fn a_bundle_opens_on_its_device_only_and_refuses_any_changed_byte() {
    let files: &[(&str, &[u8])] = &[("course.json", b"{\"title\":\"Ladders\"}"), ("a/b.txt", b"three points")];
    let (bytes, _) = bundle(files);
    let now = t("2026-12-02T10:00:00Z");
    let opened = open(&bytes, &DEVICE, &trusted(), now, None).unwrap();
    assert_eq!(opened.file("a/b.txt"), Some(&b"three points"[..]));
    assert_eq!(opened.manifest.course.title, "Ladders");
    assert_eq!(open(&bytes, &OTHER_DEVICE, &trusted(), now, None).unwrap_err(), OpenError::OtherDevice);
    assert!(matches!(open(&bytes, &DEVICE, &[], now, None), Err(OpenError::UnknownKey(_))));
    let wrong = [("k1", verifying_key(&[8; 32]))];
    assert_eq!(open(&bytes, &DEVICE, &wrong, now, None).unwrap_err(), OpenError::BadSignature);
    // Every single byte, flipped, is refused; so is a byte more or less.
    for i in 0..bytes.len() {
        let mut changed = bytes.clone();
        changed[i] ^= 0x01;
        assert!(open(&changed, &DEVICE, &trusted(), now, None).is_err(), "byte {i} changed and it opened");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(open(&longer, &DEVICE, &trusted(), now, None).is_err());
    assert!(open(&bytes[..bytes.len() - 1], &DEVICE, &trusted(), now, None).is_err());
}

#[test]
fn expiry_revocation_and_a_late_check_in_close_the_bundle() {
    let (bytes, license) = bundle(&[("course.json", b"{}")]);
    let tr = trusted();
    let check_in = |at: &str, revoked: Vec<Uuid>| sign_check_in(&PLATFORM, "k1", license.device_id, t(at), revoked);
    let expired = t("2026-12-31T10:00:00Z");
    let fresh = check_in("2026-12-30T10:00:00Z", vec![]);
    assert_eq!(open(&bytes, &DEVICE, &tr, expired, Some(&fresh)).unwrap_err(), OpenError::Expired(license.expires_at));
    // Seven days after the download without a check-in: closed until the device checks in.
    let late = t("2026-12-08T10:00:01Z");
    assert!(matches!(open(&bytes, &DEVICE, &tr, late, None), Err(OpenError::CheckInOverdue(_))));
    let checked = check_in("2026-12-08T09:00:00Z", vec![Uuid::now_v7()]);
    assert!(open(&bytes, &DEVICE, &tr, late, Some(&checked)).is_ok());
    let revoked = check_in("2026-12-08T10:00:01Z", vec![license.license_id]);
    assert_eq!(open(&bytes, &DEVICE, &tr, late, Some(&revoked)).unwrap_err(), OpenError::Revoked);
    // What the device stored cannot be edited: not the revocations, not the time.
    let mut forgot = revoked.clone();
    forgot.revoked.clear();
    assert_eq!(open(&bytes, &DEVICE, &tr, late, Some(&forgot)).unwrap_err(), OpenError::BadCheckIn);
    let mut later = checked.clone();
    later.at = t("2026-12-08T10:00:00Z");
    assert_eq!(open(&bytes, &DEVICE, &tr, late, Some(&later)).unwrap_err(), OpenError::BadCheckIn);
    // Another device's check-in does not count.
    let other = sign_check_in(&PLATFORM, "k1", Uuid::now_v7(), t("2026-12-08T09:00:00Z"), vec![]);
    assert_eq!(open(&bytes, &DEVICE, &tr, late, Some(&other)).unwrap_err(), OpenError::BadCheckIn);
    // A clock set back before the last check-in (or the download) does not reopen the
    // window: the platform's signed times are ahead of it.
    let ahead = check_in("2026-12-09T09:00:00Z", vec![]);
    assert_eq!(open(&bytes, &DEVICE, &tr, late, Some(&ahead)).unwrap_err(), OpenError::ClockBehind);
    let behind = t("2026-12-01T09:00:00Z");
    assert_eq!(open(&bytes, &DEVICE, &tr, behind, None).unwrap_err(), OpenError::ClockBehind);
}

#[test]
fn a_weak_device_key_or_a_repeated_path_is_refused_at_build() {
    let build_for = |license: License| {
        build(Build {
            bundle_id: Uuid::now_v7(),
            key_id: "k1",
            signing_key: &PLATFORM,
            course: Course { course_id: license.course_id, version: 1, title: "t".into(), content_hash: "h".into() },
            license,
            files: &[("x", b"1"), ("x", b"2")],
            content_key: [1; 32],
            ephemeral_secret: [2; 32],
        })
    };
    let mut weak = bundle(&[("x", b"")]).1;
    weak.device_public_key = B64.encode([0u8; 32]);
    assert_eq!(build_for(weak).unwrap_err(), BuildError::WeakDeviceKey);
    assert_eq!(build_for(bundle(&[("x", b"")]).1).unwrap_err(), BuildError::Path("x".into()));
    assert!(weak_device_key(&[0u8; 32]));
    assert!(!weak_device_key(&device_public_key(&DEVICE)));
}
