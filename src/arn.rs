//! The one ARN parser: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, split into its parts.
//! What each kind of ARN must look like beyond that is checked where it is used.

/// The six parts of an ARN. The resource may itself contain `:` and `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arn<'a> {
    pub(crate) partition: &'a str,
    pub(crate) service: &'a str,
    pub(crate) region: &'a str,
    pub(crate) account: &'a str,
    pub(crate) resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `text` into its parts; `None` unless it starts with `arn:` and has six parts.
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        let prefix = parts.next()?;
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (prefix == "arn").then_some(arn)
    }

    /// Whether the partition looks like one (`aws`, `aws-cn`, `aws-us-gov`, ...).
    pub(crate) fn has_valid_partition(&self) -> bool {
        self.partition
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            && self
                .partition
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }

    /// Whether the account is a 12-digit AWS account id.
    pub(crate) fn has_account_id(&self) -> bool {
        self.account.len() == 12 && self.account.chars().all(|c| c.is_ascii_digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_into_six_parts_keeping_the_resource_whole() {
        let arn = Arn::parse("arn:aws:sts::123456789012:assumed-role/r/s:x").unwrap();
        assert_eq!(
            arn,
            Arn {
                partition: "aws",
                service: "sts",
                region: "",
                account: "123456789012",
                resource: "assumed-role/r/s:x",
            }
        );
        assert!(arn.has_valid_partition() && arn.has_account_id());
        assert_eq!(Arn::parse("arn:aws:iam::1"), None);
        assert_eq!(Arn::parse("nra:aws:iam::123456789012:role/r"), None);
        assert!(
            !Arn::parse("arn:AWS:iam::1:r")
                .unwrap()
                .has_valid_partition()
        );
        assert!(
            !Arn::parse("arn:aws:iam::aws:policy/p")
                .unwrap()
                .has_account_id()
        );
    }
}
