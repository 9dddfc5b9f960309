//! The xAPI identifiers Mirai's own apps write, so every context reads a statement the
//! same way: a person is the `account` whose `homePage` is the platform's public URL and
//! whose `name` is their user id; a course is the activity `<public URL>/courses/<id>`.

use crate::ids::{CourseId, LessonId, UserId};

/// The canonical IFI (as the LRS reports an actor) of a Mirai user.
pub fn account_ifi(public_url: &str, user: UserId) -> String {
    format!("account:{}|{user}", public_url.trim_end_matches('/'))
}

/// The user a canonical IFI names, when it is exactly a Mirai account of this platform
/// as [`account_ifi`] writes it (the spelling the LRS matches a person by, for access and
/// erasure).
pub fn user_of(public_url: &str, ifi: &str) -> Option<UserId> {
    let user: UserId = ifi.rsplit_once('|')?.1.parse().ok()?;
    (account_ifi(public_url, user) == ifi).then_some(user)
}

/// The activity IRI of a course.
pub fn course_activity(public_url: &str, course: CourseId) -> String {
    format!("{}/courses/{course}", public_url.trim_end_matches('/'))
}

/// The activity IRI of a lesson of a course (not a course: [`course_of`] refuses it).
pub fn lesson_activity(public_url: &str, course: CourseId, lesson: LessonId) -> String {
    format!("{}/lessons/{lesson}", course_activity(public_url, course))
}

/// The course an activity IRI names, when it is a course of this platform.
pub fn course_of(public_url: &str, iri: &str) -> Option<CourseId> {
    let rest = iri.strip_prefix(public_url.trim_end_matches('/'))?.strip_prefix("/courses/")?;
    rest.parse().ok()
}

/// The ADL verbs that complete a course (`passed` too: a pass is a completion; cmi5 uses
/// both).
pub const COMPLETION_VERBS: &[&str] =
    &["http://adlnet.gov/expapi/verbs/completed", "http://adlnet.gov/expapi/verbs/passed"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip_and_refuse_other_platforms() {
        let url = "https://mirai.example";
        let (u, c) = (UserId::new(), CourseId::new());
        assert_eq!(user_of(url, &account_ifi(url, u)), Some(u));
        assert_eq!(user_of("https://other.example", &account_ifi(url, u)), None);
        assert_eq!(user_of(url, "mbox:mailto:a@b.c"), None);
        let upper = format!("account:{url}|{}", u.to_string().to_uppercase());
        assert_eq!(user_of(url, &upper), None, "another spelling of the id is another agent");
        assert_eq!(course_of(url, &course_activity(&format!("{url}/"), c)), Some(c));
        assert_eq!(course_of(url, &format!("{url}/courses/{c}/lesson/1")), None);
        assert_eq!(course_of(url, &lesson_activity(url, c, LessonId::new())), None);
        assert_eq!(course_of("https://other.example", &course_activity(url, c)), None);
    }
}
