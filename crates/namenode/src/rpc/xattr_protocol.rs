//! ClientProtocol's extended-attribute methods: request → namesystem call → response.
//!
//! On the wire an attribute is a namespace enum plus the name without its prefix; the
//! namesystem takes the prefixed name (`user.a`). An empty value is sent as no value, as
//! Hadoop returns a stored empty value as `null`.

use ferrodfs_proto::hdfs::*;

use super::client_protocol::ClientProtocolHandler;
use super::convert::remote;
use super::{CallInfo, RpcResult};
use crate::error::Error;
use crate::namespace::xattr::{XAttr, XAttrNameSpace};

/// `user.a` from the wire form; an unknown namespace number is refused.
fn prefixed(x: &XAttrProto) -> RpcResult<String> {
    let ns = XAttrNameSpace::from_proto(x.namespace).ok_or_else(|| {
        remote(&Error::IllegalArgument {
            message: format!("Unknown XAttr namespace {}", x.namespace),
        })
    })?;
    Ok(format!("{}.{}", ns.prefix(), x.name))
}

fn missing_xattr() -> Error {
    Error::IllegalArgument {
        message: "XAttr must be specified".into(),
    }
}

fn to_proto(x: XAttr, with_value: bool) -> XAttrProto {
    XAttrProto {
        namespace: x.ns.to_proto(),
        name: x.name,
        value: (with_value && !x.value.is_empty()).then_some(x.value),
    }
}

impl ClientProtocolHandler {
    pub fn set_xattr(
        &self,
        call: &CallInfo,
        req: SetXAttrRequestProto,
    ) -> RpcResult<SetXAttrResponseProto> {
        let x = req
            .x_attr
            .as_ref()
            .ok_or_else(|| remote(&missing_xattr()))?;
        let name = prefixed(x)?;
        self.namenode()
            .set_xattr(
                &self.caller(call, ""),
                &req.src,
                &name,
                x.value.as_deref().unwrap_or_default(),
                req.flag.unwrap_or(0),
            )
            .map_err(|e| remote(&e))?;
        Ok(SetXAttrResponseProto {})
    }

    pub fn get_xattrs(
        &self,
        call: &CallInfo,
        req: GetXAttrsRequestProto,
    ) -> RpcResult<GetXAttrsResponseProto> {
        let names = req
            .x_attrs
            .iter()
            .map(prefixed)
            .collect::<RpcResult<Vec<_>>>()?;
        let xs = self
            .namenode()
            .get_xattrs(&self.caller(call, ""), &req.src, &names)
            .map_err(|e| remote(&e))?;
        Ok(GetXAttrsResponseProto {
            x_attrs: xs.into_iter().map(|x| to_proto(x, true)).collect(),
        })
    }

    pub fn list_xattrs(
        &self,
        call: &CallInfo,
        req: ListXAttrsRequestProto,
    ) -> RpcResult<ListXAttrsResponseProto> {
        let xs = self
            .namenode()
            .list_xattrs(&self.caller(call, ""), &req.src)
            .map_err(|e| remote(&e))?;
        Ok(ListXAttrsResponseProto {
            x_attrs: xs.into_iter().map(|x| to_proto(x, false)).collect(),
        })
    }

    pub fn remove_xattr(
        &self,
        call: &CallInfo,
        req: RemoveXAttrRequestProto,
    ) -> RpcResult<RemoveXAttrResponseProto> {
        let x = req
            .x_attr
            .as_ref()
            .ok_or_else(|| remote(&missing_xattr()))?;
        let name = prefixed(x)?;
        self.namenode()
            .remove_xattr(&self.caller(call, ""), &req.src, &name)
            .map_err(|e| remote(&e))?;
        Ok(RemoveXAttrResponseProto {})
    }
}
